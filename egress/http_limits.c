/* egress/http_limits.c — who is watching and how much one address may take:
 * viewers per rendition over the last 30 s (for /metrics and the index) and
 * the per-IP connection cap. Called by http.c (accept) and the routes. */
#include "http_internal.h"

/* ---- viewers and per-IP caps ------------------------------------------- */

/* Notes that ip fetched the media playlist of key ("<lecture>/<rend>"). */
void lr__http_viewer_seen(lr_http *h, const char *key, size_t key_len, const char *ip)
{
    char k[sizeof(((viewer_slot *)0)->key)];
    if (key_len >= sizeof(k))
        return;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    uint64_t hash = hash_bytes(k, key_len) ^ (hash_bytes(ip, strlen(ip)) * 31);
    hash = hash ? hash : 1;
    int64_t now = mono_s();

    pthread_mutex_lock(&h->viewers_lock);
    for (size_t n = 0, i = hash & (VIEWER_SLOTS - 1); n < 32; n++, i = (i + 1) & (VIEWER_SLOTS - 1)) {
        viewer_slot *s = &h->viewers[i];
        if (s->hash == hash || !s->hash || now - s->seen > VIEWER_WINDOW_S) {
            s->hash = hash;
            s->seen = now;
            memcpy(s->key, k, key_len + 1);
            break;
        }
    }
    pthread_mutex_unlock(&h->viewers_lock);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void lr__http_render_viewers(lr_http *h, AVBPrint *out)
{
    int64_t now = mono_s();
    const char **keys = av_malloc_array(VIEWER_SLOTS, sizeof(*keys));
    size_t n = 0;

    if (!keys)
        return;
    pthread_mutex_lock(&h->viewers_lock);
    for (size_t i = 0; i < VIEWER_SLOTS; i++)
        if (h->viewers[i].hash && now - h->viewers[i].seen <= VIEWER_WINDOW_S)
            keys[n++] = av_strdup(h->viewers[i].key);
    pthread_mutex_unlock(&h->viewers_lock);
    qsort(keys, n, sizeof(*keys), cmp_keys);
    lr_metrics_family(out, "lr_http_viewers", "gauge",
                      "distinct client addresses that fetched the rendition's media playlist "
                      "in the last 30 s");
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && keys[j] && keys[i] && !strcmp(keys[j], keys[i]))
            j++;
        if (keys[i]) {
            const char *slash = strchr(keys[i], '/');
            char lec[96];
            snprintf(lec, sizeof(lec), "%.*s", slash ? (int)(slash - keys[i]) : 0, keys[i]);
            av_bprintf(out, "lr_http_viewers{lecture=\"");
            lr_metrics_label(out, lec);
            av_bprintf(out, "\",rendition=\"");
            lr_metrics_label(out, slash ? slash + 1 : "");
            av_bprintf(out, "\"} %zu\n", j - i);
        }
        i = j > i ? j : i + 1;
    }
    for (size_t i = 0; i < n; i++)
        av_free((void *)keys[i]);
    av_free(keys);
}

/* Counts a connection from ip; returns 0, or -1 when ip is at the cap. */
int lr__http_ip_acquire(lr_http *h, const char *ip)
{
    uint64_t b = hash_bytes(ip, strlen(ip)) & (IP_BUCKETS - 1);
    int ret = 0;
    pthread_mutex_lock(&h->ip_lock);
    ip_count *c = h->ips[b];
    while (c && strcmp(c->ip, ip))
        c = c->next;
    if (!c && (c = av_mallocz(sizeof(*c)))) {
        snprintf(c->ip, sizeof(c->ip), "%s", ip);
        c->next = h->ips[b];
        h->ips[b] = c;
    }
    if (!c || c->n >= h->conf->max_conns_per_ip)
        ret = -1;
    else
        c->n++;
    pthread_mutex_unlock(&h->ip_lock);
    return ret;
}

int lr__http_ip_is_loopback(const char *ip)
{
    return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

int lr__http_ip_uncapped(const lr_http *h, const char *ip)
{
    if (h->uncapped_loopback && lr__http_ip_is_loopback(ip))
        return 1;
    for (int i = 0; i < h->nb_uncapped; i++)
        if (lr_cidr_match(&h->uncapped[i], ip))
            return 1;
    return 0;
}

/* The sums over the loops: each loop counts its own; a cap a few over
 * when two loops accept at once is fine. */
int lr__http_open_conns(lr_http *h)
{
    int n = 0;

    for (int i = 0; i < h->nb_workers; i++)
        n += atomic_load_explicit(&h->workers[i].nb_conns, memory_order_relaxed);
    return n;
}

int lr__http_parked_requests(lr_http *h)
{
    int n = 0;

    for (int i = 0; i < h->nb_workers; i++)
        n += atomic_load_explicit(&h->workers[i].nb_parked, memory_order_relaxed);
    return n;
}

int lr__http_at_max_conns(lr_http *h)
{
    return h->conf->max_conns > 0 && lr__http_open_conns(h) >= h->conf->max_conns;
}

int lr__http_at_max_parked(lr_http *h)
{
    return h->conf->max_parked > 0 && lr__http_parked_requests(h) >= h->conf->max_parked;
}

void lr__http_ip_release(lr_http *h, const char *ip)
{
    uint64_t b = hash_bytes(ip, strlen(ip)) & (IP_BUCKETS - 1);
    pthread_mutex_lock(&h->ip_lock);
    for (ip_count **pc = &h->ips[b]; *pc; pc = &(*pc)->next) {
        if (!strcmp((*pc)->ip, ip)) {
            ip_count *c = *pc;
            if (--c->n <= 0) {
                *pc = c->next;
                av_free(c);
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->ip_lock);
}

/* Distinct (address, rendition) pairs seen in the last 30 s, counted at
 * most once a second (the steering manifest asks on every reload). */
int lr__http_viewers_total(lr_http *h)
{
    int64_t now = mono_s();
    int n;

    pthread_mutex_lock(&h->viewers_lock);
    if (now != h->viewers_counted_at) {
        h->viewers_counted = 0;
        for (size_t i = 0; i < VIEWER_SLOTS; i++)
            h->viewers_counted += h->viewers[i].hash && now - h->viewers[i].seen <= VIEWER_WINDOW_S;
        h->viewers_counted_at = now;
    }
    n = h->viewers_counted;
    pthread_mutex_unlock(&h->viewers_lock);
    return n;
}
