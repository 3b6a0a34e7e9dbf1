/* ingest/rtmp_chunk.h — the RTMP chunk stream: a reader that reassembles
 * messages from any slicing of the byte stream, with bounded memory whatever
 * the peer declares, and a writer for our replies. Used by rtmp_session.c;
 * fuzzed by tests/fuzz/fuzz_rtmp_chunk.c. */
#ifndef LR_INGEST_RTMP_CHUNK_H
#define LR_INGEST_RTMP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/fifo.h>

/* What a peer may make us hold. A message header can declare up to 16 MiB;
 * we take at most LR_RTMP_MAX_MESSAGE, on at most LR_RTMP_MAX_CHUNK_STREAMS
 * chunk streams, and at most LR_RTMP_MAX_PENDING bytes of unfinished
 * messages in all. Beyond any of them: AVERROR_INVALIDDATA. */
#define LR_RTMP_MAX_MESSAGE        (8 << 20)
#define LR_RTMP_MAX_CHUNK_STREAMS  64
#define LR_RTMP_MAX_PENDING        (16 << 20)
#define LR_RTMP_DEFAULT_CHUNK_SIZE 128
#define LR_RTMP_MAX_CHUNK_SIZE     0x7FFFFFFF

enum lr_rtmp_msg_type {
    LR_RTMP_SET_CHUNK_SIZE     = 1,
    LR_RTMP_ABORT              = 2,
    LR_RTMP_ACK                = 3,
    LR_RTMP_USER_CONTROL       = 4,
    LR_RTMP_WINDOW_ACK_SIZE    = 5,
    LR_RTMP_SET_PEER_BANDWIDTH = 6,
    LR_RTMP_AUDIO              = 8,
    LR_RTMP_VIDEO              = 9,
    LR_RTMP_DATA_AMF3          = 15,
    LR_RTMP_COMMAND_AMF3       = 17,
    LR_RTMP_DATA_AMF0          = 18,
    LR_RTMP_COMMAND_AMF0       = 20,
    LR_RTMP_AGGREGATE          = 22,
};

typedef struct lr_rtmp_msg {
    uint32_t       csid;       /* chunk stream it came on / goes on (2..65599) */
    uint8_t        type;       /* enum lr_rtmp_msg_type */
    uint32_t       stream_id;  /* message stream id */
    uint32_t       timestamp;  /* absolute, milliseconds, wraps at 2^32 */
    const uint8_t *data;       /* reader: valid during the callback only */
    uint32_t       size;
} lr_rtmp_msg;

/* Called for every complete message; a negative return stops the read and
 * is returned by it. */
typedef int lr_rtmp_msg_fn(void *opaque, const lr_rtmp_msg *m);

typedef struct lr_rtmp_chunk_reader lr_rtmp_chunk_reader;

int  lr_rtmp_chunk_reader_alloc(lr_rtmp_chunk_reader **out);
void lr_rtmp_chunk_reader_free(lr_rtmp_chunk_reader **r);

/* Feeds the next size bytes of the stream (any slicing). Set Chunk Size,
 * Abort and Window Acknowledgement Size take effect inside the reader
 * before fn sees them. Returns 0; AVERROR_INVALIDDATA on a protocol
 * violation or a bound crossed (lr_rtmp_chunk_reader_error says which; the
 * reader then refuses further input); or fn's negative return. */
int  lr_rtmp_chunk_read(lr_rtmp_chunk_reader *r, const uint8_t *buf, size_t size,
                        lr_rtmp_msg_fn *fn, void *opaque);
/* Why the last read failed, for the log line; "" if it did not. */
const char *lr_rtmp_chunk_reader_error(const lr_rtmp_chunk_reader *r);
/* 1 and the sequence number (bytes received, mod 2^32) when the bytes
 * received since the last Acknowledgement reached the peer's window; the
 * caller then sends one (lr_rtmp_chunk_write_control). Else 0. */
int  lr_rtmp_chunk_ack_due(lr_rtmp_chunk_reader *r, uint32_t *seq);
uint32_t lr_rtmp_chunk_reader_chunk_size(const lr_rtmp_chunk_reader *r);

/* The writer: one type 0 header per message, type 3 for its continuation
 * chunks. Appending a Set Chunk Size message switches it to the new size. */
typedef struct lr_rtmp_chunk_writer {
    uint32_t chunk_size;
} lr_rtmp_chunk_writer;

void lr_rtmp_chunk_writer_init(lr_rtmp_chunk_writer *w);
/* Appends m, cut into chunks, to out. Returns 0, AVERROR(EINVAL) for a csid
 * outside 2..65599 or a message over 16 MiB - 1, or av_fifo_write's error. */
int  lr_rtmp_chunk_write(lr_rtmp_chunk_writer *w, AVFifo *out, const lr_rtmp_msg *m);
/* A protocol control message with one 32-bit value (Set Chunk Size,
 * Acknowledgement, Window Acknowledgement Size) on chunk stream 2. */
int  lr_rtmp_chunk_write_control(lr_rtmp_chunk_writer *w, AVFifo *out, uint8_t type, uint32_t value);
/* Set Peer Bandwidth: window and limit type (0 hard, 1 soft, 2 dynamic). */
int  lr_rtmp_chunk_write_peer_bandwidth(lr_rtmp_chunk_writer *w, AVFifo *out,
                                        uint32_t window, uint8_t limit);
/* User Control event (0 Stream Begin, 1 Stream EOF...) with one value. */
int  lr_rtmp_chunk_write_user_control(lr_rtmp_chunk_writer *w, AVFifo *out,
                                      uint16_t event, uint32_t value);

#endif
