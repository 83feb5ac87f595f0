/// ForecastReport owns `forecastd report`: a job's published models, metrics, training curves,
/// latest forecasts and recent history read through the store (`ReportLoader`) into a
/// `JobReport`, and one self-contained HTML page with inline SVG charts (`ReportPage`,
/// `SVGChart`).
///
/// It must not know the jobs or the daemon, and writes nothing to the database.
