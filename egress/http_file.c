/* egress/http_file.c — files from disk: the DVR window's and /vod/
 * recordings' segments and playlists, mapped and sent with Range (206, 416).
 * Called by http_routes.c (/vod/) and http_live.c (the time-shift window). */
#include "http_internal.h"

/* The content type of a file served from disk, from its name; NULL: not
 * a kind we serve. in_audio: the file is under the "audio" rendition. */
const char *lr__http_file_content_type(const char *name, size_t len, int in_audio)
{
    if (has_suffix(name, len, ".m3u8"))
        return "application/vnd.apple.mpegurl";
    if (has_suffix(name, len, ".mp4"))
        return in_audio ? "audio/mp4" : "video/mp4";
    if (has_suffix(name, len, ".m4s"))
        return "video/iso.segment";
    if (has_suffix(name, len, ".ts"))
        return "video/mp2t";
    return NULL;
}

typedef struct mapped_file {
    void  *addr;
    size_t size;
} mapped_file;

static void mapped_file_dispose(void *p)
{
    mapped_file *m = p;
    if (m->addr)
        munmap(m->addr, m->size);
}

/* The request's Range header (http_parse.h) for a file of size bytes. */
static int parse_range(h2o_req_t *req, size_t size, size_t *first, size_t *last)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    return lr_http_parse_range(v.base, v.len, size, first, last);
}

/* Opens root/rel one component at a time, following no symbolic link on
 * the way (a link planted in a recordings folder can't lead a request out
 * of it); root itself is the operator's and may hold links. "", "." and
 * ".." components are refused. Returns the descriptor or -1. */
static int open_beneath(const char *root, const char *rel, int flags)
{
    char buf[4096];
    int dfd, fd = -1;

    if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf))
        return -1;
    if ((dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    for (char *comp = buf, *next; comp; comp = next) {
        if ((next = strchr(comp, '/')))
            *next++ = '\0';
        if (!*comp || !strcmp(comp, ".") || !strcmp(comp, ".."))
            break;
        if (!next) {
            fd = openat(dfd, comp, flags | O_NOFOLLOW | O_CLOEXEC);
            break;
        }
        int sub = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        if ((dfd = sub) < 0)
            return -1;
    }
    close(dfd);
    return fd;
}

/* Serves the regular file root/rel (opened by open_beneath), mapped (the
 * page cache's pages go straight to the socket, nothing copied by us), with
 * single-range support. Returns 0, or -1 when the file can't be served
 * (nothing sent). */
int lr__http_send_file(h2o_req_t *req, const char *root, const char *rel, const char *type,
                       const char *cc)
{
    static h2o_generator_t generator = { NULL, NULL };
    struct stat st;
    size_t first = 0, last = 0;
    int fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    size_t size = st.st_size;
    mapped_file *m = h2o_mem_alloc_shared(&req->pool, sizeof(*m), mapped_file_dispose);
    m->addr = NULL;
    m->size = size;
    if (size) {
        void *a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (a == MAP_FAILED) {
            close(fd);
            return -1;
        }
        m->addr = a;
    }
    close(fd);

    lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, cc);
    lr__http_add_header(req, H2O_TOKEN_ACCEPT_RANGES, "bytes");
    lr__http_add_cors(req_worker(req)->h, req);
    int r = parse_range(req, size, &first, &last);
    if (r < 0) {
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%zu", size);
        lr__http_add_header(req, H2O_TOKEN_CONTENT_RANGE, pool_strdup(req, cr, strlen(cr)));
        lr__http_count_response(req_worker(req), 416, 0);
        h2o_send_error_generic(req, 416, "Range Not Satisfiable", "range not satisfiable\n",
                               H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    h2o_iovec_t body = h2o_iovec_init(m->addr, size);
    req->res.status = 200;
    req->res.reason = "OK";
    if (r > 0) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", first, last, size);
        lr__http_add_header(req, H2O_TOKEN_CONTENT_RANGE, pool_strdup(req, cr, strlen(cr)));
        body = h2o_iovec_init((char *)m->addr + first, last - first + 1);
        req->res.status = 206;
        req->res.reason = "Partial Content";
    }
    req->res.content_length = body.len;
    lr__http_add_header(req, H2O_TOKEN_CONTENT_TYPE, type);
    lr__http_count_response(req_worker(req), req->res.status,
                            is_method(req, "HEAD") ? 0 : body.len);
    h2o_start_response(req, &generator);
    if (is_method(req, "HEAD") || !body.len)
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

/* ---- /vod/ -------------------------------------------------------------- */

/* A playlist of a recording, whole (a master is small; a media playlist of
 * a long lecture with its parts is a few hundred KiB). NULL when missing,
 * empty or over max bytes. */
static AVBufferRef *read_playlist_file(const char *root, const char *rel, size_t max)
{
    int fd = open_beneath(root, rel, O_RDONLY);
    struct stat st;
    AVBufferRef *b = NULL;
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (size_t)st.st_size <= max && (b = av_buffer_alloc(st.st_size))) {
        while (got < b->size &&
               ((n = read(fd, b->data + got, b->size - got)) > 0 || (n < 0 && errno == EINTR)))
            got += n > 0 ? (size_t)n : 0;
        if (got != b->size)  /* shorter than it said: being replaced; let the client retry */
            av_buffer_unref(&b);
    }
    close(fd);
    return b;
}

/* /vod/<lecture>/<id>/(master.m3u8 | recording.json | <rend>/<file>) */
void lr__http_serve_vod(lr_http *h, h2o_req_t *req, const char *rest, size_t len)
{
    const char *dir = h->conf->recordings_dir;
    h2o_iovec_t c[4];
    char path[4096];
    int nc = lr__http_split_components(rest, len, c, 4);
    const char *type;

    if (!dir || !*dir || nc < 3 ||
        !lr_lecture_name_valid(pool_strdup(req, c[0].base, c[0].len)) ||
        !lr_recording_id_valid(c[1].base, c[1].len)) {
        lr__http_send_404(req);
        return;
    }
    const h2o_iovec_t *file = &c[nc - 1];
    if (nc == 3 && h2o_memis(file->base, file->len, H2O_STRLIT("recording.json")))
        type = "application/json";
    else
        type = lr__http_file_content_type(
            file->base, file->len, nc == 4 && h2o_memis(c[2].base, c[2].len, H2O_STRLIT("audio")));
    if (!type || (nc == 3 && !h2o_memis(file->base, file->len, H2O_STRLIT("master.m3u8")) &&
                  strcmp(type, "application/json"))) {
        lr__http_send_404(req);
        return;
    }
    if (snprintf(path, sizeof(path), "%.*s", (int)len, rest) >= (int)sizeof(path)) {
        lr__http_send_404(req);
        return;
    }
    /* playlists and the description change while recording; media never */
    const char *cc = has_suffix(file->base, file->len, ".m3u8") ||
                     has_suffix(file->base, file->len, ".json") ? "public, max-age=2"
                                                                 : IMMUTABLE_CC;
    /* the master (rewritten for VLC), and any playlist whose URIs are
     * signed one by one (url_sign.h); the rest straight from the file */
    lr_url_signer s;
    int is_playlist = !strcmp(type, "application/vnd.apple.mpegurl");
    if (is_playlist && (nc == 3 || lr__http_query_signer(req, &s))) {
        AVBufferRef *b = read_playlist_file(dir, path, nc == 3 ? 65536 : MAX_ASSET_SIZE);
        if (!b)
            lr__http_send_404(req);
        else if (nc == 3)
            lr__http_send_master(req, &b, cc);
        else
            lr__http_send_playlist(req, &b, cc);
        return;
    }
    if (lr__http_send_file(req, dir, path, type, cc) < 0)
        lr__http_send_404(req);
}
