/* int80io: file and socket calls made by 64-bit code through the i386 `int $0x80` gate (compat syscalls).
 *
 *   int80io PATH [PORT [UDPPORT]]
 *
 * opens PATH with i386 open (5), reads it (3), opens it again with i386 openat (295) relative to AT_FDCWD,
 * then, with a PORT, creates a TCP socket with socketcall(SYS_SOCKET) and connects it to 127.0.0.1:PORT with
 * socketcall(SYS_CONNECT); with a UDPPORT, sends one datagram there with socketcall(SYS_SENDMSG) (a 32-bit
 * struct compat_msghdr). Last, an i386 execve (11) of /nonexistent/int80io with argv {.., "x"} fails.
 * Output: "open=FD openat=FD socket=FD connect=R sendmsg=R execve=R" (negative values are -errno).
 *
 * The int 0x80 gate truncates every register to 32 bits, so pointers must be below 4 GiB: build with -no-pie
 * and keep everything the kernel reads in static storage. To prove that a monitor truncates too, the upper
 * halves of the pointer and dirfd registers are filled with junk the kernel ignores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JUNK 0x5a5a5a5a00000000UL

static char path[4096];
static char buf[256];
static unsigned int words[6];
static unsigned char addr[16];
static unsigned int msg[7];      /* struct compat_msghdr: name, namelen, iov, iovlen, control, controllen, flags */
static unsigned int iov[2];      /* struct compat_iovec: base, len */
static const char *bad_exe = "/nonexistent/int80io";
static unsigned int exec_argv[3];

static void set_addr(int port)
{
	memset(addr, 0, sizeof(addr));
	addr[0] = 2;    /* sin_family = AF_INET (little-endian u16) */
	addr[2] = (unsigned char)(port >> 8);
	addr[3] = (unsigned char)port;
	addr[4] = 127;
	addr[7] = 1;
}

static long int80(long nr, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return (int)ret;   /* the compat return value is 32 bits wide */
}

int main(int argc, char **argv)
{
	long fd, fd2, sock = 0, rc = 0, udp, sent = 0, ex;
	int port;

	if (argc < 2 || strlen(argv[1]) >= sizeof(path)) {
		fprintf(stderr, "usage: %s PATH [PORT]\n", argv[0]);
		return 2;
	}
	strcpy(path, argv[1]);
	fd = int80(5, JUNK | (unsigned long)path, 0 /* O_RDONLY */, 0, 0);
	if (fd >= 0) {
		int80(3, fd, (unsigned long)buf, sizeof(buf), 0);
		int80(6, fd, 0, 0, 0);
	}
	fd2 = int80(295, JUNK | 0xffffff9cUL /* AT_FDCWD */, JUNK | (unsigned long)path, 0, 0);
	if (fd2 >= 0)
		int80(6, fd2, 0, 0, 0);
	if (argc > 2) {
		port = atoi(argv[2]);
		words[0] = 2;   /* AF_INET */
		words[1] = 1;   /* SOCK_STREAM */
		words[2] = 0;
		sock = int80(102, 1 /* SYS_SOCKET */, JUNK | (unsigned long)words, 0, 0);
		set_addr(port);
		words[0] = (unsigned int)sock;
		words[1] = (unsigned int)(unsigned long)addr;
		words[2] = sizeof(addr);
		rc = int80(102, 3 /* SYS_CONNECT */, (unsigned long)words, 0, 0);
		if (sock >= 0)
			int80(6, sock, 0, 0, 0);
	}
	if (argc > 3) {
		words[0] = 2;   /* AF_INET */
		words[1] = 2;   /* SOCK_DGRAM */
		words[2] = 0;
		udp = int80(102, 1 /* SYS_SOCKET */, (unsigned long)words, 0, 0);
		set_addr(atoi(argv[3]));
		iov[0] = (unsigned int)(unsigned long)buf;
		iov[1] = 4;
		msg[0] = (unsigned int)(unsigned long)addr;
		msg[1] = sizeof(addr);
		msg[2] = (unsigned int)(unsigned long)iov;
		msg[3] = 1;
		words[0] = (unsigned int)udp;
		words[1] = (unsigned int)(unsigned long)msg;
		words[2] = 0;
		sent = int80(102, 16 /* SYS_SENDMSG */, (unsigned long)words, 0, 0);
		if (udp >= 0)
			int80(6, udp, 0, 0, 0);
	}
	exec_argv[0] = (unsigned int)(unsigned long)bad_exe;
	exec_argv[1] = (unsigned int)(unsigned long)"x";
	exec_argv[2] = 0;
	ex = int80(11, (unsigned long)bad_exe, (unsigned long)exec_argv, 0, 0);
	printf("open=%ld openat=%ld socket=%ld connect=%ld sendmsg=%ld execve=%ld\n", fd, fd2, sock, rc, sent, ex);
	return 0;
}
