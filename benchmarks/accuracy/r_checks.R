# Short seasonal series from R's own datasets package (no download), as other data to check a
# rule of the guard on (guard_rules.sh): monthly UKDriverDeaths, nottem, USAccDeaths, ldeaths,
# mdeaths, fdeaths; quarterly UKgas, JohnsonJohnson; and the other monthly columns of Seatbelts
# (front, rear, kms, PetrolPrice, VanKilled), added after the rules above were chosen, as data no
# rule was tuned on. Writes r_monthly.csv, r_quarterly.csv and r_seatbelts.csv (series, period,
# value) into the current folder.
#
#   Rscript r_checks.R        # apt-get install r-base-core
out <- function(series, file, timecol) {
  rows <- do.call(rbind, lapply(names(series), function(k) {
    s <- series[[k]]
    t <- time(s); y <- floor(t + 1e-9); p <- round((t - y) * frequency(s)) + 1
    month <- if (frequency(s) == 12) p else (p - 1) * 3 + 1
    data.frame(series = k, time = sprintf("%04d-%02d-01", as.integer(y), as.integer(month)), value = as.numeric(s))
  }))
  names(rows)[2] <- timecol
  write.csv(rows, file, row.names = FALSE, quote = FALSE)
}
out(list(UKDriverDeaths = UKDriverDeaths, nottem = nottem, USAccDeaths = USAccDeaths, ldeaths = ldeaths, mdeaths = mdeaths, fdeaths = fdeaths),
    "r_monthly.csv", "month")
out(list(UKgas = UKgas, JohnsonJohnson = JohnsonJohnson), "r_quarterly.csv", "quarter")
out(lapply(c(front = "front", rear = "rear", kms = "kms", PetrolPrice = "PetrolPrice", VanKilled = "VanKilled"), function(k) Seatbelts[, k]),
    "r_seatbelts.csv", "month")
