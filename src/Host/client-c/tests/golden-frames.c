/*
 * golden-frames: the C client against the golden frames of docs/protocol.md.
 * It plays the daemon on one end of a socketpair: each reply frame of the document is queued before the call
 * that expects it, and each request the client sends is compared byte for byte with the document's.
 * Usage: golden-frames PATH-TO-protocol.md
 */
#define _GNU_SOURCE
#include "../bufferactors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAMES 64
#define MAX_FRAME 512

struct golden {
    uint8_t bytes[MAX_FRAME];
    size_t length;
    char what[128];
};

static struct golden frames[MAX_FRAMES];
static int frame_count, failures;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "golden-frames:%d: %s: ", __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static int hex(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static void read_golden(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[2048];
    int inside = 0;
    while (fgets(line, sizeof line, f)) {
        if (!inside) {
            inside = strncmp(line, "```golden", 9) == 0;
            continue;
        }
        if (strncmp(line, "```", 3) == 0) break;
        struct golden *g = &frames[frame_count++];
        char *p = line;
        while (hex(p[0]) >= 0 && hex(p[1]) >= 0 && g->length < MAX_FRAME) {
            g->bytes[g->length++] = (uint8_t)(hex(p[0]) * 16 + hex(p[1]));
            p += 2;
        }
        char *comment = strstr(p, "# ");
        snprintf(g->what, sizeof g->what, "%s", comment ? comment + 2 : "?");
        g->what[strcspn(g->what, "\n")] = '\0';
    }
    fclose(f);
    if (frame_count != 31) {
        fprintf(stderr, "golden-frames: %d frames in %s, expected 31\n", frame_count, path);
        exit(2);
    }
}

/* The daemon's side: queue golden frame i (with a descriptor when fd >= 0). */
static void daemon_send(int daemon, int i, int fd)
{
    struct iovec iov = {frames[i].bytes, frames[i].length};
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
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
    if (sendmsg(daemon, &msg, 0) < 0) {
        perror("sendmsg");
        exit(2);
    }
}

/* The daemon's side: the client's last request must be golden frame i, with `fds` descriptors. */
static void daemon_expect(int daemon, int i, int fds)
{
    uint8_t buffer[MAX_FRAME];
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    struct iovec iov = {buffer, sizeof buffer};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t n = recvmsg(daemon, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    CHECK(n >= 0, "no request where the document has: %s", frames[i].what);
    if (n < 0) return;
    int arrived = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < count; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
            close(fd);
            arrived++;
        }
    }
    CHECK(arrived == fds, "%d descriptors with %s", arrived, frames[i].what);
    CHECK((size_t)n == frames[i].length && memcmp(buffer, frames[i].bytes, frames[i].length) == 0,
          "the client's bytes differ from the document's: %s", frames[i].what);
}

static int some_fd(void)
{
    int fd = memfd_create("golden", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        perror("memfd_create");
        exit(2);
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: golden-frames PATH-TO-protocol.md\n");
        return 2;
    }
    read_golden(argv[1]);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
        perror("socketpair");
        return 2;
    }
    int daemon = pair[0];
    bufferactors *ba = NULL;

    daemon_send(daemon, 1, -1);
    int r = bufferactors_connect_fd(pair[1], BUFFERACTORS_CAP_EXPORT | BUFFERACTORS_CAP_EVENTS, &ba);
    CHECK(r == 0, "connect: %s", bufferactors_strerror(r));
    if (r != 0) return 1;
    daemon_expect(daemon, 0, 0);
    const struct bufferactors_session *s = bufferactors_session(ba);
    CHECK(s->version == 1 && s->device == BUFFERACTORS_DEVICE_SIMULATOR && s->capabilities == 9 && s->max_payload == 262144 &&
              s->max_in_flight == 64 && s->uid == 1000, "HELLO_OK read wrong");

    uint64_t handle = 0;
    int fd = -1, sent = some_fd();
    daemon_send(daemon, 3, sent);
    close(sent);
    r = bufferactors_export(ba, 1, BUFFERACTORS_EXPORT_WC, (const uint32_t[]){8, 9, 10}, 3, &handle, &fd);
    CHECK(r == 0 && handle == 42 && fd >= 0, "export: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 2, 0);
    if (fd >= 0) close(fd);

    daemon_send(daemon, 5, -1);
    r = bufferactors_release(ba, 42);
    CHECK(r == 0, "release: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 4, 0);

    daemon_send(daemon, 7, -1);
    r = bufferactors_wait_released(ba, 42, 2000);
    CHECK(r == BUFFERACTORS_RELEASED, "wait: %d", r);
    daemon_expect(daemon, 6, 0);

    uint32_t refs[8] = {0};
    int dmabuf = some_fd();
    daemon_send(daemon, 9, -1);
    r = bufferactors_import(ba, 2, dmabuf, 4, &handle, refs, 8);
    CHECK(r == 4 && handle == 43 && refs[0] == 700 && refs[3] == 703, "import: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 8, 1);
    close(dmabuf);

    uint32_t deferred = 0;
    daemon_send(daemon, 11, -1);
    r = bufferactors_release_import(ba, 43, &deferred);
    CHECK(r == 0 && deferred == 1, "release import: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 10, 0);

    uint64_t offset = 99;
    int map_fd = -1;
    sent = some_fd();
    daemon_send(daemon, 13, sent);
    close(sent);
    r = bufferactors_map(ba, 1, BUFFERACTORS_MAP_READ_ONLY, (const uint32_t[]){11, 12}, 2, &handle, &map_fd, &offset);
    CHECK(r == 0 && handle == 44 && offset == 0 && map_fd >= 0, "map: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 12, 0);
    if (map_fd >= 0) close(map_fd);

    daemon_send(daemon, 15, -1);
    r = bufferactors_unmap(ba, 44);
    CHECK(r == 0, "unmap: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 14, 0);

    struct bufferactors_status status;
    daemon_send(daemon, 17, -1);
    r = bufferactors_query(ba, 42, &status);
    CHECK(r == 0 && status.kind == BUFFERACTORS_KIND_EXPORT && status.state == BUFFERACTORS_STATE_RELEASING && !status.quarantined &&
              status.domid == 1 && status.page_count == 3, "query: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 16, 0);

    uint32_t granted = 0;
    daemon_send(daemon, 19, -1);
    r = bufferactors_subscribe(ba, BUFFERACTORS_EVENT_RELEASED | BUFFERACTORS_EVENT_ACCESS_ENDED, &granted);
    CHECK(r == 0 && granted == 3, "subscribe: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 18, 0);

    /* Refusals: request 11 and 12 are exports the document answers with ERROR; events come between. */
    daemon_send(daemon, 26, -1);
    daemon_send(daemon, 20, -1);
    r = bufferactors_export(ba, 5, 0, (const uint32_t[]){1}, 1, &handle, &fd);
    const struct bufferactors_error *e = bufferactors_last_error(ba);
    CHECK(r == -BUFFERACTORS_ENOTPERMITTED && e->code == 9 && strcmp(e->message, "domain 5 is not yours") == 0, "refused: %s", bufferactors_strerror(r));
    daemon_send(daemon, 27, -1);
    daemon_send(daemon, 28, -1);
    daemon_send(daemon, 21, -1);
    r = bufferactors_export(ba, 1, 0, (const uint32_t[]){1}, 1, &handle, &fd);
    CHECK(r == -BUFFERACTORS_EDEVICE && e->kernel_errno == 22 && e->grant_status == -1 && strcmp(e->message, "EXP_FROM_REFS failed") == 0,
          "device error: %s", bufferactors_strerror(r));
    for (int i = 0; i < 2; i++) {
        uint8_t refused[64];
        CHECK(recv(daemon, refused, sizeof refused, MSG_DONTWAIT) > 0, "the refused exports were sent");
    }

    char json[64];
    size_t needed = 0;
    daemon_send(daemon, 23, -1);
    r = bufferactors_daemon_status(ba, json, 4, &needed);
    CHECK(r == -ENOBUFS && needed == 14, "a status that does not fit: %d, %zu", r, needed);
    daemon_expect(daemon, 22, 0);
    frames[23].bytes[4] = 14; /* the same report, answering the next request */
    daemon_send(daemon, 23, -1);
    r = bufferactors_daemon_status(ba, json, sizeof json, NULL);
    CHECK(r == 13 && strcmp(json, "{\"clients\":1}") == 0, "daemon status: %d", r);
    uint8_t skip[64];
    CHECK(recv(daemon, skip, sizeof skip, MSG_DONTWAIT) > 0, "the second status request was sent");

    struct bufferactors_domain_released released;
    daemon_send(daemon, 25, -1);
    r = bufferactors_release_domain(ba, 3, &released);
    CHECK(r == 0 && released.domid == 3 && released.was_dead == 1 && released.lifecycles == 1 && released.pages == 2,
          "release domain: %s", bufferactors_strerror(r));
    daemon_expect(daemon, 24, 0);

    daemon_send(daemon, 29, -1);
    struct bufferactors_event ev[5];
    int got = 0;
    while (got < 5 && (r = bufferactors_next_event(ba, &ev[got])) == 1) got++;
    CHECK(got == 4 && r == 0, "events: %d then %d", got, r);
    CHECK(ev[0].type == BUFFERACTORS_EVENT_RELEASED && ev[0].handle == 42, "RELEASED");
    CHECK(ev[1].type == BUFFERACTORS_EVENT_ACCESS_ENDED && ev[1].handle == 43, "ACCESS_ENDED");
    CHECK(ev[2].type == BUFFERACTORS_EVENT_QUARANTINED && ev[2].handle == 42 && ev[2].held_ms == 2000, "QUARANTINED");
    CHECK(ev[3].type == BUFFERACTORS_EVENT_FRONTEND_DIED && ev[3].domid == 1, "FRONTEND_DIED");

    daemon_send(daemon, 30, -1);
    r = bufferactors_query(ba, 42, &status);
    CHECK(r == -BUFFERACTORS_EGOODBYE && e->code == 1 && strcmp(e->message, "fd_count 1 but 0 descriptor(s) arrived") == 0,
          "goodbye: %s / %s", bufferactors_strerror(r), e->message);
    CHECK(bufferactors_query(ba, 42, &status) == -BUFFERACTORS_EGOODBYE, "a closed connection stays closed");

    /* Bad arguments are refused before anything is sent. */
    CHECK(bufferactors_export(ba, 1, 0, (const uint32_t[]){1}, 0, &handle, &fd) == -EINVAL, "count 0");
    CHECK(bufferactors_import(ba, 1, -1, 1, &handle, refs, 8) == -EINVAL, "no descriptor");
    CHECK(bufferactors_import(ba, 1, 0, 9, &handle, refs, 8) == -EINVAL, "refs do not fit");
    CHECK(strcmp(bufferactors_strerror(-ENOENT), strerror(ENOENT)) == 0, "errno text");

    bufferactors_close(ba);
    close(daemon);
    if (failures) {
        fprintf(stderr, "golden-frames: %d failures\n", failures);
        return 1;
    }
    printf("golden-frames: %d frames agree\n", frame_count);
    return 0;
}
