/* app/sanitizer.c — what LeakSanitizer must not call a leak in an ASan build
 * of lecture-relay. libh2o 2.2 keeps a private per-thread cache of memory
 * pool chunks (h2o_mem_alloc_recycle) that no API releases when the HTTP
 * thread ends; it is reclaimed at exit, not lost while running. libx264
 * (0.164) now and then keeps one lookahead frame (x264_frame_t and its
 * planes, x264_malloc) past x264_encoder_close when it closes right after a
 * flush under heavy load: seen once in nine ASan runs with three relays on two
 * cores. Our own leaks still show: an encoder we never closed also leaves its
 * AVCodecContext, allocated outside libx264. Unused in builds without the
 * sanitizer. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n"
           "leak:libh2o-evloop.so\n"
           "leak:x264_malloc\n";
}
