/* rawsys: issue one raw syscall through a chosen ABI and print what the kernel (or a seccomp filter) said.
 *
 *   rawsys 64    NR [ARG...]   x86_64 `syscall` with NR
 *   rawsys x32   NR [ARG...]   x86_64 `syscall` with NR | 0x40000000 (__X32_SYSCALL_BIT)
 *   rawsys int80 NR [ARG...]   i386 `int $0x80` (arguments in ebx, ecx, edx: at most 3)
 *
 * An ARG of "@null" is replaced by a freshly opened /dev/null descriptor; "@u32:A,B,C" by the address of an
 * array of 32-bit words placed below 4 GiB (what i386 socketcall(call, args*) reads). Output: "ret=R errno=E".
 * Used by tests/seccomp/test_bypass.py to show denied calls stay denied through other ABIs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static long via_int80(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static long u32_array(const char *spec)
{
	unsigned int *words = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	char *end;
	int n = 0;

	if (words == MAP_FAILED)
		return 0;
	while (*spec && n < 16) {
		words[n++] = (unsigned int)strtoul(spec, &end, 0);
		spec = *end == ',' ? end + 1 : end;
		if (end == spec && *spec != '\0')
			break;
	}
	return (long)words;
}

static long parse_arg(const char *text)
{
	if (strcmp(text, "@null") == 0)
		return open("/dev/null", O_RDONLY);
	if (strncmp(text, "@u32:", 5) == 0)
		return u32_array(text + 5);
	return (long)strtoull(text, NULL, 0);
}

int main(int argc, char **argv)
{
	long args[6] = {0};
	long nr, ret;
	int err = 0, i;

	if (argc < 3) {
		fprintf(stderr, "usage: %s 64|x32|int80 NR [ARG...]\n", argv[0]);
		return 2;
	}
	nr = strtol(argv[2], NULL, 0);
	for (i = 3; i < argc && i < 9; i++)
		args[i - 3] = parse_arg(argv[i]);
	if (strcmp(argv[1], "int80") == 0) {
		ret = via_int80(nr, args[0], args[1], args[2]);
		if (ret < 0 && ret > -4096) {
			err = (int)-ret;
			ret = -1;
		}
	} else {
		if (strcmp(argv[1], "x32") == 0)
			nr |= 0x40000000L;
		errno = 0;
		ret = syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
		err = ret == -1 ? errno : 0;
	}
	printf("ret=%ld errno=%d\n", ret, err);
	return 0;
}
