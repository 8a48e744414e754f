/* threads: four threads each write their number into a pipe; main reads them back and prints the sum. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];

static void *work(void *arg)
{
	char c = (char)(long)arg;
	usleep(1000);
	return write(fds[1], &c, 1) == 1 ? NULL : (void *)1;
}

int main(void)
{
	pthread_t t[4];
	if (pipe(fds) != 0)
		return 2;
	for (long i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(i + 1)) != 0)
			return 3;
	int sum = 0;
	for (int i = 0; i < 4; i++) {
		void *res;
		pthread_join(t[i], &res);
		char c;
		if (res != NULL || read(fds[0], &c, 1) != 1)
			return 4;
		sum += c;
	}
	printf("threads: sum %d\n", sum);
	return 0;
}
