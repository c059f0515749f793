/*
 * bufferactors.c — the C client of `bufferactors serve`; the protocol is docs/protocol.md.
 * Frames are built and read byte by byte (little-endian), never by casting structs, so the layout is the
 * document's on every compiler and architecture.
 */
#define _GNU_SOURCE
#include "bufferactors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
    HEADER_SIZE = 16,
    MAX_PAYLOAD = 262144,
    OP_HELLO = 0x0001,
    OP_EXPORT = 0x0002,
    OP_RELEASE = 0x0003,
    OP_WAIT_RELEASED = 0x0004,
    OP_IMPORT = 0x0005,
    OP_RELEASE_IMPORT = 0x0006,
    OP_MAP = 0x0007,
    OP_UNMAP = 0x0008,
    OP_QUERY = 0x0009,
    OP_SUBSCRIBE = 0x000A,
    OP_DAEMON_STATUS = 0x000B,
    OP_RELEASE_DOMAIN = 0x000C,
    REPLY_BIT = 0x8000,
    OP_ERROR = 0x80FF,
    OP_EVENT_FIRST = 0x4001,
    OP_EVENT_LAST = 0x40FF,
    OP_GOODBYE = 0x7FFF,
    WAIT_RELEASED = 0,
    WAIT_TIMED_OUT = 1,
    WAIT_NOT_FOUND = 2,
};

struct bufferactors {
    int fd;
    uint32_t last_id;
    int dead;                      /* the code every call returns once the connection is over, or 0 */
    struct bufferactors_session session;
    struct bufferactors_error error;
    struct bufferactors_event *events; /* queued events, oldest first */
    size_t event_count, event_capacity, event_first;
    uint8_t frame[HEADER_SIZE + MAX_PAYLOAD];
};

/* One frame as received: the header's fields, the payload inside ba->frame, and its descriptor if any. */
struct frame {
    uint16_t opcode;
    uint32_t request_id;
    const uint8_t *payload;
    uint32_t length;
    int fd;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32); }

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int send_frame(bufferactors *ba, uint16_t opcode, uint32_t id, const uint8_t *payload, uint32_t length, int fd)
{
    uint8_t header[HEADER_SIZE] = {0};
    put16(header, opcode);
    header[2] = fd >= 0 ? 1 : 0;
    put32(header + 4, id);
    put32(header + 8, length);
    struct iovec iov[2] = {{header, HEADER_SIZE}, {(void *)payload, length}};
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = length ? 2 : 1};
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t n;
    do n = sendmsg(ba->fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EPIPE ? -ECONNRESET : -errno;
    return 0;
}

/* Receives one frame and checks its header: a frame that breaks the protocol is -BUFFERACTORS_EPROTO with
 * every descriptor that came with it closed. `flags` is 0 (block) or MSG_DONTWAIT (-EAGAIN when none). */
static int receive_frame(bufferactors *ba, struct frame *out, int flags)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    struct iovec iov = {ba->frame, sizeof ba->frame};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t n;
    do n = recvmsg(ba->fd, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    int fds[8], fd_count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count && fd_count < 8; i++) memcpy(&fds[fd_count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (n == 0) return -ECONNRESET; /* the daemon closed the connection */
    int bad = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < HEADER_SIZE || fd_count > 1;
    if (!bad) {
        const uint8_t *h = ba->frame;
        bad = h[2] != fd_count || h[3] != 0 || get32(h + 8) != (uint32_t)n - HEADER_SIZE || get32(h + 12) != 0;
    }
    if (bad) {
        for (int i = 0; i < fd_count; i++) close(fds[i]);
        return -BUFFERACTORS_EPROTO;
    }
    out->opcode = get16(ba->frame);
    out->request_id = get32(ba->frame + 4);
    out->payload = ba->frame + HEADER_SIZE;
    out->length = (uint32_t)n - HEADER_SIZE;
    out->fd = fd_count ? fds[0] : -1;
    return 0;
}

static void copy_message(struct bufferactors_error *e, const uint8_t *text, uint32_t length)
{
    if (length > sizeof e->message - 1) length = sizeof e->message - 1;
    memcpy(e->message, text, length);
    e->message[length] = '\0';
}

static int take_goodbye(bufferactors *ba, const struct frame *f)
{
    memset(&ba->error, 0, sizeof ba->error);
    if (f->length >= 8) {
        ba->error.code = get32(f->payload);
        uint32_t length = get16(f->payload + 4);
        if (length <= f->length - 8) copy_message(&ba->error, f->payload + 8, length);
    }
    ba->dead = -BUFFERACTORS_EGOODBYE;
    return ba->dead;
}

static int take_error(bufferactors *ba, const struct frame *f)
{
    if (f->length < 12) return -BUFFERACTORS_EPROTO;
    uint32_t length = get16(f->payload + 10);
    if (length != f->length - 12) return -BUFFERACTORS_EPROTO;
    memset(&ba->error, 0, sizeof ba->error);
    ba->error.code = get32(f->payload);
    ba->error.kernel_errno = (int32_t)get32(f->payload + 4);
    ba->error.grant_status = (int16_t)get16(f->payload + 8);
    copy_message(&ba->error, f->payload + 12, length);
    if (ba->error.code == 0 || ba->error.code > 99) return -BUFFERACTORS_EPROTO;
    return -(int)(BUFFERACTORS_EBASE + ba->error.code);
}

static int queue_event(bufferactors *ba, const struct frame *f)
{
    struct bufferactors_event e = {0};
    if (f->opcode > 0x4004) return 0; /* an event of a later minor revision: not for this client */
    if (f->length != (f->opcode == 0x4003 ? 16u : 8u) || f->fd >= 0 || f->request_id != 0) return -BUFFERACTORS_EPROTO;
    switch (f->opcode) {
    case 0x4001: e.type = BUFFERACTORS_EVENT_RELEASED; e.handle = get64(f->payload); break;
    case 0x4002: e.type = BUFFERACTORS_EVENT_ACCESS_ENDED; e.handle = get64(f->payload); break;
    case 0x4003: e.type = BUFFERACTORS_EVENT_QUARANTINED; e.handle = get64(f->payload); e.held_ms = get32(f->payload + 8); break;
    default: e.type = BUFFERACTORS_EVENT_FRONTEND_DIED; e.domid = get16(f->payload); break;
    }
    if (ba->event_count == ba->event_capacity) {
        size_t capacity = ba->event_capacity ? ba->event_capacity * 2 : 16;
        struct bufferactors_event *grown = malloc(capacity * sizeof *grown);
        if (!grown) return -ENOMEM;
        for (size_t i = 0; i < ba->event_count; i++) grown[i] = ba->events[(ba->event_first + i) % ba->event_capacity];
        free(ba->events);
        ba->events = grown;
        ba->event_capacity = capacity;
        ba->event_first = 0;
    }
    ba->events[(ba->event_first + ba->event_count++) % ba->event_capacity] = e;
    return 0;
}

/* A frame that is not the awaited reply: an event (queued), GOODBYE (the end), or a protocol error. */
static int take_unsolicited(bufferactors *ba, struct frame *f)
{
    if (f->opcode == OP_GOODBYE) {
        close_fd(&f->fd);
        return take_goodbye(ba, f);
    }
    if (f->opcode >= OP_EVENT_FIRST && f->opcode <= OP_EVENT_LAST) {
        int r = queue_event(ba, f);
        close_fd(&f->fd);
        return r;
    }
    close_fd(&f->fd);
    return -BUFFERACTORS_EPROTO;
}

/* Sends one request and waits for its reply. On success *reply holds it (its descriptor is the caller's). A
 * reply of the wrong length, or a descriptor where none belongs, is a protocol error. */
static int call(bufferactors *ba, uint16_t opcode, const uint8_t *payload, uint32_t length, int fd,
                uint32_t reply_min, uint32_t reply_max, int reply_fd, struct frame *reply)
{
    if (ba->dead) return ba->dead;
    if (++ba->last_id == 0) ba->last_id = 1;
    uint32_t id = ba->last_id;
    int r = send_frame(ba, opcode, id, payload, length, fd);
    if (r == -ECONNRESET) {
        /* The daemon closed first: its GOODBYE, if it sent one, is still queued and says why. */
        struct frame f;
        if (receive_frame(ba, &f, MSG_DONTWAIT) == 0 && f.opcode == OP_GOODBYE) {
            close_fd(&f.fd);
            return take_goodbye(ba, &f);
        }
    }
    if (r < 0) return ba->dead = r;
    for (;;) {
        struct frame f;
        r = receive_frame(ba, &f, 0);
        if (r < 0) return ba->dead = r;
        if (f.request_id != id || f.opcode == OP_GOODBYE) {
            r = take_unsolicited(ba, &f);
            if (r < 0) return ba->dead = r;
            continue;
        }
        if (f.opcode == OP_ERROR) {
            close_fd(&f.fd);
            r = take_error(ba, &f);
            if (r == -BUFFERACTORS_EPROTO) ba->dead = r;
            return r;
        }
        if (f.opcode != (opcode | REPLY_BIT) || f.length < reply_min || f.length > reply_max || (f.fd >= 0) != reply_fd) {
            close_fd(&f.fd);
            return ba->dead = -BUFFERACTORS_EPROTO;
        }
        *reply = f;
        return 0;
    }
}

static int hello(bufferactors *ba, uint32_t capabilities)
{
    uint8_t p[8];
    put16(p, BUFFERACTORS_PROTOCOL_VERSION);
    put16(p + 2, BUFFERACTORS_PROTOCOL_VERSION);
    put32(p + 4, capabilities);
    struct frame f;
    int r = call(ba, OP_HELLO, p, sizeof p, -1, 24, 24, 0, &f);
    if (r < 0) return r;
    ba->session.version = get16(f.payload);
    ba->session.device = get16(f.payload + 2);
    ba->session.capabilities = get32(f.payload + 4);
    ba->session.max_payload = get32(f.payload + 8);
    ba->session.max_in_flight = get32(f.payload + 12);
    ba->session.uid = get32(f.payload + 16);
    return ba->session.version == BUFFERACTORS_PROTOCOL_VERSION ? 0 : -BUFFERACTORS_EPROTO;
}

int bufferactors_connect_fd(int fd, uint32_t capabilities, bufferactors **out)
{
    if (!out || fd < 0) {
        if (fd >= 0) close(fd);
        return -EINVAL;
    }
    *out = NULL;
    bufferactors *ba = calloc(1, sizeof *ba);
    if (!ba) {
        close(fd);
        return -ENOMEM;
    }
    ba->fd = fd;
    int r = hello(ba, capabilities);
    if (r < 0) {
        bufferactors_close(ba);
        return r;
    }
    *out = ba;
    return 0;
}

int bufferactors_connect(const char *path, uint32_t capabilities, bufferactors **out)
{
    if (!path || !out) return -EINVAL;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) return -ENAMETOOLONG;
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return bufferactors_connect_fd(fd, capabilities, out);
}

void bufferactors_close(bufferactors *ba)
{
    if (!ba) return;
    close(ba->fd);
    free(ba->events);
    free(ba);
}

const struct bufferactors_session *bufferactors_session(const bufferactors *ba) { return &ba->session; }
const struct bufferactors_error *bufferactors_last_error(const bufferactors *ba) { return &ba->error; }
int bufferactors_fd(const bufferactors *ba) { return ba->fd; }

/* The refs array of the protocol: u32 count, then the refs; written at p. */
static void put_refs(uint8_t *p, const uint32_t *refs, uint32_t count)
{
    put32(p, count);
    for (uint32_t i = 0; i < count; i++) put32(p + 4 + 4 * i, refs[i]);
}

/* Whether `count` refs after `fixed` bytes fit one frame. */
static int refs_fit(uint32_t fixed, uint32_t count) { return count >= 1 && count <= (MAX_PAYLOAD - fixed - 4) / 4; }

int bufferactors_export(bufferactors *ba, uint16_t domid, uint32_t flags, const uint32_t *refs, uint32_t count,
                        uint64_t *handle, int *dmabuf_fd)
{
    if (!ba || !refs || !handle || !dmabuf_fd || !refs_fit(8, count)) return -EINVAL;
    uint32_t length = 12 + 4 * count;
    uint8_t *p = malloc(length);
    if (!p) return -ENOMEM;
    put16(p, domid);
    put16(p + 2, 0);
    put32(p + 4, flags);
    put_refs(p + 8, refs, count);
    struct frame f;
    int r = call(ba, OP_EXPORT, p, length, -1, 16, 16, 1, &f);
    free(p);
    if (r < 0) return r;
    *handle = get64(f.payload);
    *dmabuf_fd = f.fd;
    return 0;
}

/* A request whose payload is one handle and whose reply starts with it. */
static int handle_call(bufferactors *ba, uint16_t opcode, uint64_t handle, uint32_t reply_length, struct frame *f)
{
    uint8_t p[8];
    put64(p, handle);
    int r = call(ba, opcode, p, sizeof p, -1, reply_length, reply_length, 0, f);
    if (r == 0 && get64(f->payload) != handle) return ba->dead = -BUFFERACTORS_EPROTO;
    return r;
}

int bufferactors_release(bufferactors *ba, uint64_t handle)
{
    if (!ba) return -EINVAL;
    struct frame f;
    return handle_call(ba, OP_RELEASE, handle, 16, &f);
}

int bufferactors_wait_released(bufferactors *ba, uint64_t handle, uint32_t timeout_ms)
{
    if (!ba) return -EINVAL;
    uint8_t p[16] = {0};
    put64(p, handle);
    put32(p + 8, timeout_ms);
    struct frame f;
    int r = call(ba, OP_WAIT_RELEASED, p, sizeof p, -1, 16, 16, 0, &f);
    if (r < 0) return r;
    switch (get32(f.payload + 8)) {
    case WAIT_RELEASED:
    case WAIT_NOT_FOUND: return BUFFERACTORS_RELEASED; /* a lifecycle that is over was released */
    case WAIT_TIMED_OUT: return BUFFERACTORS_TIMED_OUT;
    default: return ba->dead = -BUFFERACTORS_EPROTO;
    }
}

int bufferactors_import(bufferactors *ba, uint16_t domid, int dmabuf_fd, uint32_t page_count, uint64_t *handle,
                        uint32_t *refs, uint32_t capacity)
{
    if (!ba || dmabuf_fd < 0 || !handle || !refs || page_count == 0 || capacity < page_count) return -EINVAL;
    uint8_t p[8];
    put16(p, domid);
    put16(p + 2, 0);
    put32(p + 4, page_count);
    struct frame f;
    int r = call(ba, OP_IMPORT, p, sizeof p, dmabuf_fd, 12, MAX_PAYLOAD, 0, &f);
    if (r < 0) return r;
    uint32_t count = get32(f.payload + 8);
    if (count > capacity || f.length != 12 + 4 * count) return ba->dead = -BUFFERACTORS_EPROTO;
    *handle = get64(f.payload);
    for (uint32_t i = 0; i < count; i++) refs[i] = get32(f.payload + 12 + 4 * i);
    return (int)count;
}

int bufferactors_release_import(bufferactors *ba, uint64_t handle, uint32_t *deferred)
{
    if (!ba) return -EINVAL;
    struct frame f;
    int r = handle_call(ba, OP_RELEASE_IMPORT, handle, 16, &f);
    if (r == 0 && deferred) *deferred = get32(f.payload + 8);
    return r;
}

int bufferactors_map(bufferactors *ba, uint16_t domid, uint32_t flags, const uint32_t *refs, uint32_t count,
                     uint64_t *handle, int *map_fd, uint64_t *mmap_offset)
{
    if (!ba || !refs || !handle || !map_fd || !mmap_offset || flags > 0xFFFF || !refs_fit(4, count)) return -EINVAL;
    uint32_t length = 8 + 4 * count;
    uint8_t *p = malloc(length);
    if (!p) return -ENOMEM;
    put16(p, domid);
    put16(p + 2, (uint16_t)flags);
    put_refs(p + 4, refs, count);
    struct frame f;
    int r = call(ba, OP_MAP, p, length, -1, 24, 24, 1, &f);
    free(p);
    if (r < 0) return r;
    *handle = get64(f.payload);
    *mmap_offset = get64(f.payload + 16);
    *map_fd = f.fd;
    return 0;
}

int bufferactors_unmap(bufferactors *ba, uint64_t handle)
{
    if (!ba) return -EINVAL;
    struct frame f;
    return handle_call(ba, OP_UNMAP, handle, 8, &f);
}

int bufferactors_query(bufferactors *ba, uint64_t handle, struct bufferactors_status *status)
{
    if (!ba || !status) return -EINVAL;
    struct frame f;
    int r = handle_call(ba, OP_QUERY, handle, 24, &f);
    if (r < 0) return r;
    status->handle = handle;
    status->kind = f.payload[8];
    status->state = f.payload[9];
    status->quarantined = f.payload[10];
    status->domid = get16(f.payload + 12);
    status->page_count = get32(f.payload + 16);
    return 0;
}

int bufferactors_subscribe(bufferactors *ba, uint32_t events, uint32_t *granted)
{
    if (!ba) return -EINVAL;
    uint8_t p[4];
    put32(p, events);
    struct frame f;
    int r = call(ba, OP_SUBSCRIBE, p, sizeof p, -1, 4, 4, 0, &f);
    if (r == 0 && granted) *granted = get32(f.payload);
    return r;
}

int bufferactors_next_event(bufferactors *ba, struct bufferactors_event *event)
{
    if (!ba || !event) return -EINVAL;
    while (ba->event_count == 0) {
        if (ba->dead) return ba->dead;
        struct frame f;
        int r = receive_frame(ba, &f, MSG_DONTWAIT);
        if (r == -EAGAIN) return 0;
        if (r < 0) return ba->dead = r;
        r = take_unsolicited(ba, &f); /* no request is in flight: anything but an event ends the connection */
        if (r < 0) return ba->dead = r;
    }
    *event = ba->events[ba->event_first];
    ba->event_first = (ba->event_first + 1) % ba->event_capacity;
    ba->event_count--;
    return 1;
}

int bufferactors_daemon_status(bufferactors *ba, char *json, size_t capacity, size_t *needed)
{
    if (!ba || (!json && capacity)) return -EINVAL;
    struct frame f;
    int r = call(ba, OP_DAEMON_STATUS, NULL, 0, -1, 0, MAX_PAYLOAD, 0, &f);
    if (r < 0) return r;
    if (needed) *needed = (size_t)f.length + 1;
    if ((size_t)f.length + 1 > capacity) return -ENOBUFS;
    memcpy(json, f.payload, f.length);
    json[f.length] = '\0';
    return (int)f.length;
}

int bufferactors_release_domain(bufferactors *ba, uint16_t domid, struct bufferactors_domain_released *released)
{
    if (!ba) return -EINVAL;
    uint8_t p[8] = {0};
    put16(p, domid);
    struct frame f;
    int r = call(ba, OP_RELEASE_DOMAIN, p, sizeof p, -1, 16, 16, 0, &f);
    if (r < 0) return r;
    if (released) {
        released->domid = get16(f.payload);
        released->was_dead = f.payload[2];
        released->lifecycles = get32(f.payload + 4);
        released->pages = get64(f.payload + 8);
    }
    return 0;
}

const char *bufferactors_strerror(int code)
{
    switch (-code) {
    case 0: return "success";
    case BUFFERACTORS_EINVALID: return "the daemon refused an invalid argument";
    case BUFFERACTORS_ENOTFOUND: return "no such lifecycle of this connection";
    case BUFFERACTORS_ESTATE: return "the lifecycle is not in a state that allows this";
    case BUFFERACTORS_EQUOTA: return "a quota of the daemon would be exceeded";
    case BUFFERACTORS_EDOMAINDEAD: return "the frontend domain is dead";
    case BUFFERACTORS_EDEVICE: return "the grant device refused";
    case BUFFERACTORS_EJOURNAL: return "the daemon's journal failed";
    case BUFFERACTORS_ESTOPPED: return "the daemon is stopping";
    case BUFFERACTORS_ENOTPERMITTED: return "not permitted for this peer";
    case BUFFERACTORS_EVERSION: return "no protocol version in common with the daemon";
    case BUFFERACTORS_EBUSY: return "too many requests in flight";
    case BUFFERACTORS_EGOODBYE: return "the daemon closed the connection";
    case BUFFERACTORS_EPROTO: return "the daemon sent a frame this client cannot read";
    default: return code < 0 && -code < BUFFERACTORS_EBASE ? strerror(-code) : "unknown bufferactors code";
    }
}
