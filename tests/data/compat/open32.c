/* open32: a real 32-bit (i386) program, no libc: opens TARGET (a -D string) with the i386 open (5) and exits
 * with the fd as its status. Build: gcc -m32 -nostdlib -static -DTARGET='"/path"'. */
static const char target[] = TARGET;

void _start(void)
{
	long fd;

	__asm__ volatile("int $0x80" : "=a"(fd) : "a"(5), "b"(target), "c"(0) : "memory");
	__asm__ volatile("int $0x80" : : "a"(1), "b"(fd));
	for (;;)
		;
}
