// /init of the real-kernel lane's initramfs (dom0 under Xen, arm64). Mounts what the runner needs,
// loads the lane's modules, runs the conformance runner with the arguments the kernel command line
// passed after "--"; for the whole lane (--scenario) it then runs the runner's doctor probe with the lane's
// gntdev, swaps it for Debian's own (no dma-buf) and runs the probe again; it prints the dmesg lines that
// matter, and powers the machine off. Built static by tests/real-kernel/run with aarch64-linux-gnu-gcc.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, const char *detail)
{
    printf("[init] %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    fflush(stdout);
}

static void load_module(const char *path, const char *params)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("cannot open module", path);
        return;
    }
    if (syscall(SYS_finit_module, fd, params, 0) != 0 && errno != EEXIST) {
        char text[256];
        snprintf(text, sizeof text, "%s: %s", path, strerror(errno));
        say("finit_module failed", text);
    }
    close(fd);
}

// Runs the conformance runner with the `count` arguments `extra`; returns its wait status.
static int run_runner(char **extra, int count)
{
    pid_t child = fork();
    if (child == 0) {
        char *args[64];
        int n = 0;
        args[n++] = "/runner/BufferActors.Conformance";
        for (int i = 0; i < count && n < 62; i++)
            args[n++] = extra[i];
        args[n] = NULL;
        char *env[] = {
            "HOME=/tmp", "TMPDIR=/tmp", "DOTNET_CLI_TELEMETRY_OPTOUT=1",
            "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1", "DOTNET_TieredPGO=0",
            "DOTNET_TC_QuickJitForLoops=1", "DOTNET_gcServer=0", "DOTNET_GCHeapHardLimit=0x20000000",
            NULL,
        };
        execve(args[0], args, env);
        say("cannot run the conformance runner", strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

static void report_end(const char *what, int status)
{
    char text[64];
    if (WIFEXITED(status))
        snprintf(text, sizeof text, "exit %d", WEXITSTATUS(status));
    else
        snprintf(text, sizeof text, "signal %d", WTERMSIG(status));
    printf("%s %s\n", what, text);
    fflush(stdout);
}

// The kernel log lines a clean run must not contain are checked by the host; print the whole ring
// between markers so the host sees exactly what the kernel said.
static void dump_kernel_log(void)
{
    int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
    if (size <= 0)
        return;
    char *buffer = malloc((size_t)size + 1);
    if (!buffer)
        return;
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buffer, size);
    if (n > 0) {
        buffer[n] = 0;
        printf("BA-DMESG-BEGIN\n%s\nBA-DMESG-END\n", buffer);
        fflush(stdout);
    }
    free(buffer);
}

int main(int argc, char **argv)
{
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    mkdir("/dev/shm", 0777);
    mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);

    // Only warnings and worse on the console: the runner's output must not be interleaved with kernel chatter.
    klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 4);

    load_module("/lib/modules/xen-gntdev.ko", "");
    load_module("/lib/modules/xen-gntalloc.ko", "");
    // xenfs (with privcmd, which it needs) on /proc/xen: /proc/xen/capabilities says dom0 to the doctor probe.
    load_module("/lib/modules/xen-privcmd.ko", "");
    load_module("/lib/modules/xenfs.ko", "");
    mkdir("/proc/xen", 0555);
    mount("xenfs", "/proc/xen", "xenfs", 0, NULL);
    say("modules loaded", NULL);

    int whole = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--scenario") == 0)
            whole = 1;
    report_end("BA-RUNNER-END", run_runner(argv + 1, argc - 1));

    if (whole) {
        char *ours[] = {"--doctor", "gntdev-dmabuf"};
        report_end("BA-DOCTOR-END", run_runner(ours, 2));
        if (syscall(SYS_delete_module, "xen_gntdev", O_NONBLOCK) != 0)
            say("cannot unload the lane's xen_gntdev", strerror(errno));
        load_module("/lib/modules/debian/xen-gntdev.ko", "");
        char *debian[] = {"--doctor", "gntdev-debian"};
        report_end("BA-DOCTOR-END", run_runner(debian, 2));
    }
    dump_kernel_log();
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
