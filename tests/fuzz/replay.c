/*
 * replay.c - runs a libFuzzer harness over files, for compilers without
 * libFuzzer: every file named, and every file in every directory named
 * (sorted, so that a failure names the same file each run).
 * Exit 0 when every input ran, 1 when an input could not be read or a
 * directory holds none (a corpus that went missing must not pass).
 * Each file is named on stderr before it runs, so that the input of a
 * failure is the last name shown.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the harness: 0, or -1 when it could not be read. */
static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	fprintf(stderr, "replay: %s\n", path);
	do {
		if (len == cap) {
			uint8_t *p;

			cap = cap != 0 ? cap * 2 : 65536;
			p = realloc(buf, cap);
			if (p == NULL) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf != NULL ? buf : (const uint8_t *)"", len);
	free(buf);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Feed every file of dir: the number run, or -1. */
static int
run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_hidden, by_name), ran = 0, r = 0;

	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/%s", dir,
			names[i]->d_name) >= (int)sizeof(path)) {
			fprintf(stderr, "%s/%s: path too long\n", dir,
			    names[i]->d_name);
			r = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				r = -1;
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return r != 0 ? -1 : ran;
}

int
main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		n = S_ISDIR(st.st_mode)	     ? run_dir(argv[i])
		    : run_file(argv[i]) == 0 ? 1
					     : -1;
		if (n <= 0) {
			fprintf(stderr, "%s: %s\n", argv[i],
			    n == 0 ? "no inputs" : "failed");
			return 1;
		}
		total += n;
	}
	printf("%d inputs ran\n", total);
	return 0;
}
