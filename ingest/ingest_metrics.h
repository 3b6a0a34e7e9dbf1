/* ingest/ingest_metrics.h — renders the ingest's lectures as Prometheus
 * families (lr_ingest_*). Called from the ingest's metrics collector. */
#ifndef LR_INGEST_INGEST_METRICS_H
#define LR_INGEST_INGEST_METRICS_H

#include <libavutil/bprint.h>

#include "lecture.h"

void lr_ingest_metrics_render(lr_lecture *const *lectures, int nb, AVBPrint *out);

#endif
