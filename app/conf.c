/* app/conf.c — see conf.h. The one place that knows every role's section,
 * so common/ never depends on a role. */
#include "conf.h"

#include "egress/egress.h"
#include "ingest/ingest.h"
#include "transcode/transcode.h"

const lr_conf_section *const lr_app_conf_sections[] = {
    &lr_ingest_conf_section,
    &lr_transcode_conf_section,
    &lr_egress_conf_section,
    NULL,
};
