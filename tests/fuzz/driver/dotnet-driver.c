/*
 * libFuzzer side of SharpFuzz's Fuzzer.LibFuzzer.Run: libFuzzer mutates inputs in this native
 * process, the .NET target runs them. Linked with libFuzzer.a (Debian's libfuzzer-14-dev).
 *
 * The contract SharpFuzz's runner expects, and what this file provides:
 *  - a System V shared memory segment whose id is in __LIBFUZZER_SHM_ID: first the 64 KiB of
 *    AFL-style edge counters that the instrumented assembly increments, then the input bytes;
 *  - two pipes, whose descriptors it reads from __LIBFUZZER_CONTROL_PIPE_ID (we write each input's
 *    length, int32) and __LIBFUZZER_STATUS_PIPE_ID (the target writes an int32: 0 once at start-up,
 *    then per input 0 for a clean run or non-zero when the action threw). We put them at 198/199.
 * After each run the counters are copied into libFuzzer's extra-counters section, which is how
 * coverage of the managed code guides the mutations.
 *
 * Usage: dotnet-driver [libFuzzer flags] --target_path=dotnet --target_arg=Milter.Fuzz.dll CORPUS...
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { COUNTERS = 1 << 16, MAX_INPUT = 1 << 20, INPUT_FD = 198, STATUS_FD = 199 };

__attribute__((section("__libfuzzer_extra_counters"))) uint8_t managed_edges[COUNTERS];

static uint8_t *shared;
static int shm_id = -1;
static int to_target = -1;
static int from_target = -1;
static pid_t target = -1;

static void fail(const char *what)
{
    fprintf(stderr, "dotnet-driver: %s: %s\n", what, errno ? strerror(errno) : "unexpected");
    exit(1);
}

static void release(void)
{
    if (shm_id >= 0)
        shmctl(shm_id, IPC_RMID, NULL);
    if (target > 0)
        kill(target, SIGKILL);
}

static const char *flag(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

static int transfer(int fd, void *buffer, size_t size, int writing)
{
    size_t done = 0;
    while (done < size)
    {
        ssize_t n = writing ? write(fd, (char *)buffer + done, size - done) : read(fd, (char *)buffer + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = flag(*argc, *argv, "--target_path");
    const char *arg = flag(*argc, *argv, "--target_arg");
    if (!path)
        fail("--target_path=PROGRAM is required");

    int input_pipe[2], status_pipe[2];
    if (pipe(input_pipe) || pipe(status_pipe))
        fail("pipe");
    shm_id = shmget(IPC_PRIVATE, COUNTERS + MAX_INPUT, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id < 0)
        fail("shmget");
    atexit(release);
    shared = shmat(shm_id, NULL, 0);
    if (shared == (void *)-1)
        fail("shmat");

    target = fork();
    if (target < 0)
        fail("fork");
    if (target == 0)
    {
        char id[16];
        snprintf(id, sizeof id, "%d", shm_id);
        if (dup2(input_pipe[0], INPUT_FD) < 0 || dup2(status_pipe[1], STATUS_FD) < 0)
            fail("dup2");
        close(input_pipe[0]), close(input_pipe[1]), close(status_pipe[0]), close(status_pipe[1]);
        setenv("__LIBFUZZER_SHM_ID", id, 1);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", "198", 1);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", "199", 1);
        execlp(path, path, arg, (char *)NULL);
        fail("exec");
    }
    close(input_pipe[0]), close(status_pipe[1]);
    to_target = input_pipe[1];
    from_target = status_pipe[0];

    int32_t hello;
    if (transfer(from_target, &hello, sizeof hello, 0))
        fail("the target did not start (is it built, and does it call Fuzzer.LibFuzzer.Run?)");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0; /* run.sh passes -max_len well below this */

    memset(shared, 0, COUNTERS);
    memcpy(shared + COUNTERS, data, size);
    int32_t length = (int32_t)size, status;
    if (transfer(to_target, &length, sizeof length, 1) || transfer(from_target, &status, sizeof status, 0))
    {
        /* The .NET process died on this input (stack overflow, fail-fast, out of memory): that is a
           crash too, and aborting makes libFuzzer save the input. */
        fprintf(stderr, "dotnet-driver: the target process died on this input\n");
        abort();
    }
    memcpy(managed_edges, shared, COUNTERS);
    if (status != 0)
        abort(); /* the target printed the exception; libFuzzer saves the input as crash-* */
    return 0;
}
