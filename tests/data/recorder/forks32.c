/* forks32: a 64-bit program that forks and execs a 32-bit child (argv[1]), waits for it and reports its exit
 * status; the recorder must learn the i386 calls of the child under their i386 names. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(argv[1], argv[1], "from-forks32", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return 4;
	printf("forks32: child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
