/*
 * bufferactors.h — the C client of `bufferactors serve` (docs/protocol.md, version 1).
 *
 * One connection is one `bufferactors` object, used from one thread at a time. Every call blocks until the
 * daemon answers it. Events (released, access ended, quarantined, frontend died) arrive on the same socket:
 * poll bufferactors_fd() for POLLIN and drain them with bufferactors_next_event(); events that arrived while a
 * call waited for its reply are queued, so drain with bufferactors_next_event() before each poll.
 *
 * Every function returns 0 (or a count) on success and a negative code on failure: -errno for a local failure
 * (e.g. -ECONNRESET when the daemon went away), or one of BUFFERACTORS_E* when the daemon refused the request;
 * bufferactors_strerror() names either, bufferactors_last_error() gives the daemon's own words.
 *
 * C11, libc only.
 */
#ifndef BUFFERACTORS_H
#define BUFFERACTORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BUFFERACTORS_PROTOCOL_VERSION 1

/* Capability bits asked for at connect and granted by the daemon (HELLO). */
#define BUFFERACTORS_CAP_EXPORT 0x1u
#define BUFFERACTORS_CAP_IMPORT 0x2u
#define BUFFERACTORS_CAP_MAP 0x4u
#define BUFFERACTORS_CAP_EVENTS 0x8u
#define BUFFERACTORS_CAP_DAEMON_STATUS 0x10u
#define BUFFERACTORS_CAP_RELEASE_DOMAIN 0x20u

/* Export flags: DMA-able memory (lowers the daemon's domain reservation); not both. */
#define BUFFERACTORS_EXPORT_WC 0x1u
#define BUFFERACTORS_EXPORT_COHERENT 0x2u

/* Map flags. */
#define BUFFERACTORS_MAP_READ_ONLY 0x1u

/* Event bits for bufferactors_subscribe(). */
#define BUFFERACTORS_EVENT_RELEASED 0x1u
#define BUFFERACTORS_EVENT_ACCESS_ENDED 0x2u
#define BUFFERACTORS_EVENT_QUARANTINED 0x4u
#define BUFFERACTORS_EVENT_FRONTEND_DIED 0x8u

/* The daemon's refusals (ERROR codes of the protocol), returned negated: -(BUFFERACTORS_EBASE + code). */
#define BUFFERACTORS_EBASE 1000
#define BUFFERACTORS_EINVALID (BUFFERACTORS_EBASE + 1)     /* InvalidArgument */
#define BUFFERACTORS_ENOTFOUND (BUFFERACTORS_EBASE + 2)    /* NotFound: no such lifecycle of this connection */
#define BUFFERACTORS_ESTATE (BUFFERACTORS_EBASE + 3)       /* InvalidState */
#define BUFFERACTORS_EQUOTA (BUFFERACTORS_EBASE + 4)       /* QuotaExceeded */
#define BUFFERACTORS_EDOMAINDEAD (BUFFERACTORS_EBASE + 5)  /* DomainDead */
#define BUFFERACTORS_EDEVICE (BUFFERACTORS_EBASE + 6)      /* Device: the kernel refused (see last_error) */
#define BUFFERACTORS_EJOURNAL (BUFFERACTORS_EBASE + 7)     /* Journal */
#define BUFFERACTORS_ESTOPPED (BUFFERACTORS_EBASE + 8)     /* Stopped: the daemon is stopping */
#define BUFFERACTORS_ENOTPERMITTED (BUFFERACTORS_EBASE + 9) /* NotPermitted */
#define BUFFERACTORS_EVERSION (BUFFERACTORS_EBASE + 10)    /* VersionMismatch */
#define BUFFERACTORS_EBUSY (BUFFERACTORS_EBASE + 11)       /* Busy: too many requests in flight */
#define BUFFERACTORS_EGOODBYE (BUFFERACTORS_EBASE + 100)   /* the daemon closed the connection (see last_error) */
#define BUFFERACTORS_EPROTO (BUFFERACTORS_EBASE + 101)     /* the daemon sent a frame this client cannot read */

/* wait_released() results. */
#define BUFFERACTORS_RELEASED 0
#define BUFFERACTORS_TIMED_OUT 1
#define BUFFERACTORS_WAIT_FOREVER 0xFFFFFFFFu

enum bufferactors_device { BUFFERACTORS_DEVICE_LINUX = 1, BUFFERACTORS_DEVICE_SIMULATOR = 2 };

enum bufferactors_kind { BUFFERACTORS_KIND_MAP = 1, BUFFERACTORS_KIND_EXPORT = 2, BUFFERACTORS_KIND_IMPORT = 3 };

enum bufferactors_state {
    BUFFERACTORS_STATE_REQUESTED = 1,
    BUFFERACTORS_STATE_EXPORTED = 2,
    BUFFERACTORS_STATE_RELEASING = 3,
    BUFFERACTORS_STATE_AWAITING_EXTERNAL_RELEASE = 4,
    BUFFERACTORS_STATE_RELEASED = 5,
    BUFFERACTORS_STATE_GRANTED = 6,
    BUFFERACTORS_STATE_DEFERRED = 7,
    BUFFERACTORS_STATE_ACCESS_ENDED = 8,
    BUFFERACTORS_STATE_MAPPED = 9,
    BUFFERACTORS_STATE_UNMAPPED = 10,
    BUFFERACTORS_STATE_FAILED = 11,
    BUFFERACTORS_STATE_RECLAIMED = 12,
};

typedef struct bufferactors bufferactors;

/* What HELLO_OK said. */
struct bufferactors_session {
    uint16_t version;
    uint16_t device;        /* enum bufferactors_device */
    uint32_t capabilities;  /* granted: wanted, allowed and supported */
    uint32_t max_payload;
    uint32_t max_in_flight;
    uint32_t uid;           /* the peer uid the daemon saw */
};

/* QUERY's answer. */
struct bufferactors_status {
    uint64_t handle;
    uint8_t kind;           /* enum bufferactors_kind */
    uint8_t state;          /* enum bufferactors_state */
    uint8_t quarantined;
    uint16_t domid;
    uint32_t page_count;
};

/* What bufferactors_release_domain answers. */
struct bufferactors_domain_released {
    uint16_t domid;
    uint8_t was_dead;       /* 1: already known dead; 0: this request ended its lifecycles */
    uint32_t lifecycles;    /* of the domain still live (a device holds them, or they are ending), tracked until they end */
    uint64_t pages;         /* their pages */
};

/* An event (request id 0 on the wire). */
struct bufferactors_event {
    uint32_t type;          /* one BUFFERACTORS_EVENT_* bit */
    uint64_t handle;        /* released, access ended, quarantined */
    uint32_t held_ms;       /* quarantined */
    uint16_t domid;         /* frontend died */
};

/* The daemon's account of the last refusal (ERROR or GOODBYE) on this connection. */
struct bufferactors_error {
    uint32_t code;          /* the protocol's ERROR code, or the GOODBYE reason for BUFFERACTORS_EGOODBYE */
    int32_t kernel_errno;   /* the kernel's errno, or 0 */
    int16_t grant_status;   /* Xen GNTST_*, or 0 */
    char message[1025];     /* UTF-8, NUL-terminated */
};

/* Connects to the daemon at `path` and negotiates `capabilities`. */
int bufferactors_connect(const char *path, uint32_t capabilities, bufferactors **out);
/* Takes over a connected SOCK_SEQPACKET socket (e.g. systemd socket activation) and negotiates. On failure
 * the socket is closed. */
int bufferactors_connect_fd(int fd, uint32_t capabilities, bufferactors **out);
/* Closes the connection: the daemon ends every lifecycle it still owns. NULL is allowed. */
void bufferactors_close(bufferactors *ba);

const struct bufferactors_session *bufferactors_session(const bufferactors *ba);
const struct bufferactors_error *bufferactors_last_error(const bufferactors *ba);
/* The socket, to poll for events (POLLIN). Do not read it. */
int bufferactors_fd(const bufferactors *ba);

/* A dma-buf from frontend `domid`'s grant refs. On success *dmabuf_fd is the caller's descriptor of it:
 * close it (and every copy) to let the buffer go. */
int bufferactors_export(bufferactors *ba, uint16_t domid, uint32_t flags, const uint32_t *refs, uint32_t count,
                        uint64_t *handle, int *dmabuf_fd);
/* The daemon gives up its reference to export `handle`. */
int bufferactors_release(bufferactors *ba, uint64_t handle);
/* BUFFERACTORS_RELEASED or BUFFERACTORS_TIMED_OUT (>= 0), or a negative code. */
int bufferactors_wait_released(bufferactors *ba, uint64_t handle, uint32_t timeout_ms);
/* Grants `page_count` pages of dma-buf `dmabuf_fd` to frontend `domid` (the caller keeps its descriptor).
 * The refs are written to `refs` (room for `capacity`); returns the number of refs. */
int bufferactors_import(bufferactors *ba, uint16_t domid, int dmabuf_fd, uint32_t page_count, uint64_t *handle,
                        uint32_t *refs, uint32_t capacity);
/* Ends an import's grants; *deferred (may be NULL) counts refs the frontend still maps. */
int bufferactors_release_import(bufferactors *ba, uint64_t handle, uint32_t *deferred);
/* Maps frontend refs for CPU access: mmap `count * 4096` bytes of *map_fd (yours to close) at *mmap_offset, once,
 * MAP_SHARED, without PROT_WRITE for BUFFERACTORS_MAP_READ_ONLY. On a real gntdev a ref that cannot be mapped fails
 * that mmap (EINVAL); the map lasts until bufferactors_unmap (or the connection's end) and the munmap. */
int bufferactors_map(bufferactors *ba, uint16_t domid, uint32_t flags, const uint32_t *refs, uint32_t count,
                     uint64_t *handle, int *map_fd, uint64_t *mmap_offset);
int bufferactors_unmap(bufferactors *ba, uint64_t handle);
int bufferactors_query(bufferactors *ba, uint64_t handle, struct bufferactors_status *status);
/* Replaces the subscription; *granted (may be NULL) is what will be sent. */
int bufferactors_subscribe(bufferactors *ba, uint32_t events, uint32_t *granted);
/* 1 and *event filled, or 0 when none is waiting (never blocks), or a negative code. */
int bufferactors_next_event(bufferactors *ba, struct bufferactors_event *event);
/* The daemon's status as a JSON document (DAEMON_STATUS); returns its length, written NUL-terminated
 * when it fits `capacity` (else -ENOBUFS, the length needed in *needed if not NULL). */
int bufferactors_daemon_status(bufferactors *ba, char *json, size_t capacity, size_t *needed);
/* An operator's word that frontend `domid` was destroyed (RELEASE_DOMAIN, needs BUFFERACTORS_CAP_RELEASE_DOMAIN): its
 * lifecycles end, and its accounting is released, so a new domain given the id is served afresh; *released (may be
 * NULL) counts what a device still holds of it. */
int bufferactors_release_domain(bufferactors *ba, uint16_t domid, struct bufferactors_domain_released *released);

/* A description of any code these functions return. */
const char *bufferactors_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
