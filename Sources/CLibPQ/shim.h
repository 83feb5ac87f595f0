#ifndef FORECASTD_CLIBPQ_SHIM_H
#define FORECASTD_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
