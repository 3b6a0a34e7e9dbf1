/* egress/h2o_shim/khash.h — enough of klib's khash.h for libh2o 2.2's
 * <h2o/http2_internal.h> to compile. That header includes "khash.h", which
 * Debian's libh2o-dev does not ship; http_h2guard.c needs only the HTTP/2
 * connection struct, which holds its stream table by pointer, so the table
 * is an opaque type here. The one inline function that looks inside it,
 * h2o_http2_conn_get_stream, calls functions that are never defined: a
 * call to it from our code fails to link instead of reading a table this
 * file knows nothing of. */
#ifndef LR_EGRESS_H2O_SHIM_KHASH_H
#define LR_EGRESS_H2O_SHIM_KHASH_H

#include <stdint.h>

typedef uint32_t khint_t;
typedef khint_t  khiter_t;

#define khash_t(name) kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, value_type) typedef struct kh_##name##_s kh_##name##_t;

khiter_t lr__h2o_stream_table_is_opaque(const void *table);
void    *lr__h2o_stream_table_value_is_opaque(const void *table, khiter_t it);
#define kh_get(name, table, key) lr__h2o_stream_table_is_opaque(table)
#define kh_end(table)            lr__h2o_stream_table_is_opaque(table)
#define kh_val(table, it)        lr__h2o_stream_table_value_is_opaque(table, it)

#endif
