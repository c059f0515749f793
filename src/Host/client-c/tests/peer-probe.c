/*
 * peer-probe: one client's view of the daemon, for the tests that run it as another uid.
 *   peer-probe SOCKET connect             prints "connect 0" or "connect <code>"
 *   peer-probe SOCKET touch HANDLE        query, wait, release of a handle that is not this connection's
 *   peer-probe SOCKET export DOMID REF    an export, released again
 * Each line printed is "<what> <code>", the code as the library returned it.
 */
#include "../bufferactors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: peer-probe SOCKET connect|touch HANDLE|export DOMID REF\n");
        return 2;
    }
    bufferactors *ba;
    int r = bufferactors_connect(argv[1], BUFFERACTORS_CAP_EXPORT | BUFFERACTORS_CAP_DAEMON_STATUS | BUFFERACTORS_CAP_RELEASE_DOMAIN, &ba);
    printf("connect %d\n", r);
    if (r < 0) {
        fprintf(stderr, "peer-probe: %s\n", bufferactors_strerror(r));
        return 0;
    }
    printf("capabilities %u\n", bufferactors_session(ba)->capabilities);
    if (strcmp(argv[2], "touch") == 0 && argc == 4) {
        uint64_t handle = strtoull(argv[3], NULL, 10);
        struct bufferactors_status status;
        printf("query %d\n", bufferactors_query(ba, handle, &status));
        printf("wait %d\n", bufferactors_wait_released(ba, handle, 0));
        printf("release %d\n", bufferactors_release(ba, handle));
    } else if (strcmp(argv[2], "export") == 0 && argc == 5) {
        uint32_t ref = (uint32_t)strtoul(argv[4], NULL, 10);
        uint64_t handle;
        int fd;
        r = bufferactors_export(ba, (uint16_t)atoi(argv[3]), 0, &ref, 1, &handle, &fd);
        printf("export %d\n", r);
        if (r == 0) {
            close(fd);
            printf("release %d\n", bufferactors_release(ba, handle));
            printf("wait %d\n", bufferactors_wait_released(ba, handle, 5000));
        }
    }
    char json[4096];
    printf("daemon-status %d\n", bufferactors_daemon_status(ba, json, sizeof json, NULL) < 0 ? -1 : 0);
    printf("release-domain %d\n", bufferactors_release_domain(ba, 1, NULL));
    bufferactors_close(ba);
    return 0;
}
