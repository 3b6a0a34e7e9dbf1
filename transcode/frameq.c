/* transcode/frameq.c — see frameq.h. */
#include "frameq.h"

#include <pthread.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

struct lr_frameq {
    pthread_mutex_t lock;
    pthread_cond_t  cond;       /* signalled on every change */
    AVFrame       **slots;
    int             max, head, count;
    int             closed;
};

int lr_frameq_alloc(int max_frames, lr_frameq **out)
{
    lr_frameq *q;

    if (max_frames < 1)
        return AVERROR(EINVAL);
    if (!(q = av_mallocz(sizeof(*q))) || !(q->slots = av_calloc(max_frames, sizeof(*q->slots)))) {
        av_free(q);
        return AVERROR(ENOMEM);
    }
    q->max = max_frames;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    *out = q;
    return 0;
}

void lr_frameq_free(lr_frameq **pq)
{
    lr_frameq *q = *pq;

    if (!q)
        return;
    for (int i = 0; i < q->count; i++)
        av_frame_free(&q->slots[(q->head + i) % q->max]);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    av_free(q->slots);
    av_freep(pq);
}

int lr_frameq_send(lr_frameq *q, AVFrame *frame)
{
    AVFrame *f = av_frame_alloc();
    int ret = 0;

    if (!f)
        return AVERROR(ENOMEM);
    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->count == q->max)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->closed) {
        ret = AVERROR_EOF;
    } else {
        av_frame_move_ref(f, frame);
        q->slots[(q->head + q->count++) % q->max] = f;
        f = NULL;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    av_frame_free(&f);
    return ret;
}

int lr_frameq_receive(lr_frameq *q, AVFrame *frame)
{
    AVFrame *f = NULL;

    pthread_mutex_lock(&q->lock);
    while (!q->closed && !q->count)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->count) {
        f = q->slots[q->head];
        q->slots[q->head] = NULL;
        q->head = (q->head + 1) % q->max;
        q->count--;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    if (!f)
        return AVERROR_EOF;
    av_frame_move_ref(frame, f);
    av_frame_free(&f);
    return 0;
}

void lr_frameq_close(lr_frameq *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int lr_frameq_count(lr_frameq *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
