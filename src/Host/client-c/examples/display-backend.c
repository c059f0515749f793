/*
 * display-backend: the shape of a para-virtual display backend's buffer handling, through `bufferactors serve`.
 *
 *   display-backend SOCKET DOMID REF,REF,... [--hold]
 *
 * The frontend DOMID shared a framebuffer as grant refs. The backend
 *   1. checks the frontend's pattern through a read-only grant map, when the daemon offers maps (the way a
 *      consumer reads a buffer on the real kernel, whose exported dma-bufs cannot be mmap'ed);
 *   2. exports the refs as a dma-buf and would hand its descriptor to the display device (DRM PRIME);
 *   3. when the frontend destroys the buffer: releases it, closes the descriptor and waits until the kernel
 *      released it, before the frontend may reuse the refs.
 * With --hold it keeps the map, stops after the export and waits to be killed: the daemon then ends what it owned.
 *
 * The simulator's frontends (serve --device simulator) fill byte k of their page p with (domid * 16 + p + k).
 */
#define _GNU_SOURCE
#include "bufferactors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_REFS 1024

static int fail(const char *what, int code)
{
    fprintf(stderr, "display-backend: %s: %s\n", what, bufferactors_strerror(code));
    return 1;
}

static int parse_refs(const char *text, uint32_t *refs)
{
    int count = 0;
    for (const char *p = text; *p && count < MAX_REFS; count++) {
        char *end;
        unsigned long ref = strtoul(p, &end, 10);
        if (end == p || ref > 0xFFFFFFFFul || (*end && *end != ',')) return -1;
        refs[count] = (uint32_t)ref;
        p = *end ? end + 1 : end;
    }
    return count;
}

/* Reads the frontend's pages through a read-only grant map and checks the simulator frontends' pattern; with `hold`
 * the map stays (mapped, and in the daemon) for the daemon to end when the process dies. */
static int check_pattern(bufferactors *ba, uint16_t domid, const uint32_t *refs, int count, int hold)
{
    uint64_t handle, offset;
    int fd, r = bufferactors_map(ba, domid, BUFFERACTORS_MAP_READ_ONLY, refs, (uint32_t)count, &handle, &fd, &offset);
    if (r < 0) return fail("map", r);
    const uint8_t *pages = mmap(NULL, (size_t)count * PAGE, PROT_READ, MAP_SHARED, fd, (off_t)offset);
    int wrong = 0;
    if (pages == MAP_FAILED) {
        perror("display-backend: mmap of the grant map");
        wrong = 1;
    } else {
        for (int p = 0; p < count && !wrong; p++)
            for (unsigned k = 0; k < PAGE; k++)
                if (pages[(size_t)p * PAGE + k] != (uint8_t)(domid * 16 + p + k)) {
                    fprintf(stderr, "display-backend: page %d byte %u is %u, not the frontend's pattern\n", p, k, pages[(size_t)p * PAGE + k]);
                    wrong = 1;
                    break;
                }
        if (!wrong) printf("pattern checked on %d pages\n", count);
        if (hold) return wrong;
        munmap((void *)pages, (size_t)count * PAGE);
    }
    close(fd);
    r = bufferactors_unmap(ba, handle);
    if (r < 0) return fail("unmap", r);
    return wrong;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--hold") != 0)) {
        fprintf(stderr, "usage: display-backend SOCKET DOMID REF,REF,... [--hold]\n");
        return 2;
    }
    uint32_t refs[MAX_REFS];
    int count = parse_refs(argv[3], refs);
    long domid = strtol(argv[2], NULL, 10);
    if (count < 1 || domid < 1 || domid > 0x7FEF) {
        fprintf(stderr, "display-backend: bad domid or refs\n");
        return 2;
    }

    bufferactors *ba;
    int r = bufferactors_connect(argv[1], BUFFERACTORS_CAP_EXPORT | BUFFERACTORS_CAP_MAP | BUFFERACTORS_CAP_EVENTS, &ba);
    if (r < 0) {
        fprintf(stderr, "display-backend: connect %s: %s\n", argv[1], bufferactors_strerror(r));
        return 1;
    }
    const struct bufferactors_session *session = bufferactors_session(ba);
    printf("connected: protocol %u, %s device, uid %u\n", session->version,
           session->device == BUFFERACTORS_DEVICE_SIMULATOR ? "simulator" : "linux", session->uid);

    int status = 0;
    int events = (session->capabilities & BUFFERACTORS_CAP_EVENTS) != 0;
    uint32_t subscribed = 0;
    if (events && (r = bufferactors_subscribe(ba, BUFFERACTORS_EVENT_RELEASED, &subscribed)) < 0) status = fail("subscribe", r);
    events = (subscribed & BUFFERACTORS_EVENT_RELEASED) != 0;
    if (session->capabilities & BUFFERACTORS_CAP_MAP)
        status = check_pattern(ba, (uint16_t)domid, refs, count, argc == 5);
    else
        printf("maps not offered: pattern not checked\n");

    uint64_t handle;
    int dmabuf;
    r = bufferactors_export(ba, (uint16_t)domid, 0, refs, (uint32_t)count, &handle, &dmabuf);
    if (r < 0) {
        const struct bufferactors_error *e = bufferactors_last_error(ba);
        fprintf(stderr, "display-backend: export: %s (%s)\n", bufferactors_strerror(r), e->message);
        bufferactors_close(ba);
        return 1;
    }
    off_t size = lseek(dmabuf, 0, SEEK_END);
    printf("exported handle %llu: %lld bytes\n", (unsigned long long)handle, (long long)size);
    fflush(stdout);
    if (size != (off_t)count * PAGE) status = 1;

    struct bufferactors_status state;
    r = bufferactors_query(ba, handle, &state);
    if (r < 0 || state.kind != BUFFERACTORS_KIND_EXPORT || state.state != BUFFERACTORS_STATE_EXPORTED || state.page_count != (uint32_t)count) {
        fprintf(stderr, "display-backend: query: %s, state %u\n", bufferactors_strerror(r), r < 0 ? 0 : state.state);
        status = 1;
    }

    if (argc == 5) {
        printf("holding\n");
        fflush(stdout);
        for (;;) pause();
    }

    /* The frontend destroyed the buffer: the device let go of it; the backend lets go and waits. */
    r = bufferactors_release(ba, handle);
    if (r < 0) status = fail("release", r);
    close(dmabuf);
    r = bufferactors_wait_released(ba, handle, 5000);
    if (r != BUFFERACTORS_RELEASED) status = fail("wait released", r < 0 ? r : -ETIMEDOUT);
    else printf("released handle %llu\n", (unsigned long long)handle);

    r = bufferactors_query(ba, handle, &state);
    if (r != -BUFFERACTORS_ENOTFOUND) status = fail("query after the release", r);

    /* The RELEASED event, as an event loop would see it: drain what is queued, else poll the socket. */
    struct bufferactors_event event;
    while (events) {
        r = bufferactors_next_event(ba, &event);
        if (r == 1 && event.type == BUFFERACTORS_EVENT_RELEASED && event.handle == handle) {
            printf("event: handle %llu released\n", (unsigned long long)handle);
            break;
        }
        if (r < 0) {
            status = fail("event", r);
            break;
        }
        struct pollfd p = {.fd = bufferactors_fd(ba), .events = POLLIN};
        if (r == 0 && poll(&p, 1, 5000) != 1) {
            fprintf(stderr, "display-backend: no RELEASED event\n");
            status = 1;
            break;
        }
    }

    bufferactors_close(ba);
    printf(status ? "failed\n" : "done\n");
    return status;
}
