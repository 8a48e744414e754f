/* child32: a 32-bit (i386) program with glibc: says who it is through stdio and exits 3.
 * Build: gcc -m32 -o child32 child32.c */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	printf("child32: %s pid-ok=%d ptr=%zu\n", argc > 1 ? argv[1] : "-", getpid() > 0, sizeof(void *));
	return 3;
}
