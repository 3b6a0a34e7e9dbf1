/* egress/steering.c — Content Steering's priorities and manifest (see
 * steering.h). */
#include "steering.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

/* An address's bytes; an IPv4-mapped IPv6 one as IPv4. */
static int parse_addr(const char *s, uint8_t out[16])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out) != 1)
        return -1;
    if (!memcmp(out, mapped, 12)) {
        memmove(out, out + 12, 4);
        return 4;
    }
    return 16;
}

int lr_cidr_parse(const char *s, lr_cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    char *end;
    long bits;

    if (!slash || (size_t)(slash - s) >= sizeof(addr))
        return AVERROR(EINVAL);
    memcpy(addr, s, slash - s);
    addr[slash - s] = '\0';
    if ((out->len = parse_addr(addr, out->addr)) < 0 || !slash[1])
        return AVERROR(EINVAL);
    bits = strtol(slash + 1, &end, 10);
    if (*end || bits < 0 || bits > out->len * 8 || slash[1] == '-' || slash[1] == '+')
        return AVERROR(EINVAL);
    out->bits = (int)bits;
    return 0;
}

int lr_cidr_match(const lr_cidr *c, const char *ip)
{
    uint8_t a[16];
    int full = c->bits / 8, rest = c->bits % 8;

    if (!ip || parse_addr(ip, a) != c->len || memcmp(a, c->addr, full))
        return 0;
    return !rest || !((a[full] ^ c->addr[full]) & (0xff << (8 - rest)));
}

/* 0: healthy and room; 1: over capacity; 2: unhealthy. */
static int rank(const lr_pathway_state *s)
{
    return !s->healthy ? 2 : s->over_capacity ? 1 : 0;
}

void lr_steering_priority(const lr_pathway_state *p, int nb, const char *const *preferred,
                          int nb_preferred, int *out)
{
    int n = 0, taken[LR_STEERING_MAX_PATHWAYS] = { 0 };

    nb = nb > LR_STEERING_MAX_PATHWAYS ? LR_STEERING_MAX_PATHWAYS : nb;
    for (int r = 0; r < 3; r++) {
        /* within a rank: the client's preferred pathways first, in their order */
        for (int k = 0; k < nb_preferred; k++)
            for (int i = 0; i < nb; i++)
                if (!taken[i] && rank(&p[i]) == r && !strcmp(p[i].id, preferred[k])) {
                    taken[i] = 1;
                    out[n++] = i;
                }
        for (int i = 0; i < nb; i++)
            if (!taken[i] && rank(&p[i]) == r) {
                taken[i] = 1;
                out[n++] = i;
            }
    }
}

int lr_steering_manifest(int ttl, const char *reload_uri, const lr_pathway_state *p,
                         const int *order, int nb, AVBPrint *out)
{
    if (ttl < 1 || (reload_uri && strpbrk(reload_uri, "\"\\\n")))
        return AVERROR(EINVAL);
    av_bprintf(out, "{\"VERSION\":1,\"TTL\":%d", ttl);
    if (reload_uri)
        av_bprintf(out, ",\"RELOAD-URI\":\"%s\"", reload_uri);
    av_bprintf(out, ",\"PATHWAY-PRIORITY\":[");
    for (int i = 0; i < nb; i++)
        av_bprintf(out, "%s\"%s\"", i ? "," : "", p[order[i]].id);
    av_bprintf(out, "]}\n");
    return av_bprint_is_complete(out) ? 0 : AVERROR(ENOMEM);
}
