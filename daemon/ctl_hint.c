/*
 * ctl_hint.c - "did you mean ...?": the known name closest to a typo,
 * for caseworkers, families, commands and time zones.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "timeutil.h"
#include "util.h"

/* Longer words are not compared: no name we suggest is that long. */
#define HINT_WORD_MAX 128
/* The most edits a suggestion may be away from what was typed. */
#define HINT_EDITS_MAX 3

static int
fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
min3(int a, int b, int c)
{
	int m = a < b ? a : b;

	return m < c ? m : c;
}

int
ctl_distance(const char *a, const char *b)
{
	static int d[HINT_WORD_MAX + 1][HINT_WORD_MAX + 1];
	size_t n = strlen(a), m = strlen(b);

	if (n > HINT_WORD_MAX || m > HINT_WORD_MAX)
		return HINT_WORD_MAX;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			int cost = fold(a[i - 1]) != fold(b[j - 1]);

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
			    d[i - 1][j - 1] + cost);
			/* Two letters swapped count as one edit. */
			if (i > 1 && j > 1 &&
			    fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[n][m];
}

/* The most edits a suggestion for word may need: a quarter of it, 1 to 3. */
static int
edits_allowed(const char *word)
{
	int n = (int)strlen(word) / 4 + 1;

	return n < HINT_EDITS_MAX ? n : HINT_EDITS_MAX;
}

void
ctl_hint_init(struct ctl_hint *h, const char *word)
{
	memset(h, 0, sizeof(*h));
	h->word = word;
	h->best_d = edits_allowed(word) + 1;
}

void
ctl_hint_try(struct ctl_hint *h, const char *cand)
{
	int d;

	if (strcmp(cand, h->word) == 0)
		return; /* what was typed: not a suggestion */
	d = ctl_distance(h->word, cand);
	if (d < h->best_d) {
		h->best_d = d;
		xstrlcpy(h->best, cand, sizeof(h->best));
	}
}

const char *
ctl_hint_best(const struct ctl_hint *h)
{
	return h->best[0] != '\0' ? h->best : NULL;
}

/* Zones: every file of the time zone database, walked once. */
static struct {
	const char *typed;
	size_t root;
	char *tab; /* zone1970.tab: the canonical names, for ties */
	char best[FC_ZONE_MAX + 1];
	int best_d;
	bool best_canonical;
} zw;

/* Whether zone1970.tab lists name (its third column). */
static bool
canonical(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = zw.tab; p != NULL && (p = strstr(p, name)); p += n)
		if (p > zw.tab && p[-1] == '\t' &&
		    (p[n] == '\t' || p[n] == '\n'))
			return true;
	return false;
}

static int
zone_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *name = path + zw.root, *city;
	int d;
	bool canon;

	(void)st;
	if (type == FTW_D && ftw->level == 1 &&
	    (strcmp(name, "posix") == 0 || strcmp(name, "right") == 0 ||
		strcmp(name, "Etc") == 0))
		return FTW_SKIP_SUBTREE;
	/* Zone names start with a capital; the tables beside them do not. */
	if ((type != FTW_F && type != FTW_SL) || name[0] < 'A' ||
	    name[0] > 'Z' || strchr(name, '.') != NULL ||
	    strlen(name) > FC_ZONE_MAX || strcmp(name, zw.typed) == 0)
		return FTW_CONTINUE;
	d = ctl_distance(zw.typed, name);
	/* "berlin" or "Berln" alone: the city of a zone. */
	city = strrchr(name, '/');
	if (city != NULL && strchr(zw.typed, '/') == NULL) {
		int dc = ctl_distance(zw.typed, city + 1);

		d = dc < d ? dc : d;
	}
	if (d > zw.best_d)
		return FTW_CONTINUE;
	/* On a tie, the current name rather than an old alias. */
	canon = canonical(name);
	if (d < zw.best_d || zw.best[0] == '\0' ||
	    (canon && !zw.best_canonical) ||
	    (canon == zw.best_canonical && strcmp(name, zw.best) < 0)) {
		zw.best_d = d;
		zw.best_canonical = canon;
		xstrlcpy(zw.best, name, sizeof(zw.best));
	}
	return FTW_CONTINUE;
}

const char *
ctl_closest_zone(const char *typed, char *buf, size_t size)
{
	const char *dir = getenv("TZDIR");
	struct fc_error e = {0};
	char root[FC_PATH_MAX], tab[FC_PATH_MAX];
	size_t len;
	int rc;

	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	if (xsnprintf(root, sizeof(root), "%s", dir) != 0 ||
	    xsnprintf(tab, sizeof(tab), "%s/zone1970.tab", dir) != 0)
		return NULL;
	memset(&zw, 0, sizeof(zw));
	zw.typed = typed;
	zw.root = strlen(root) + 1;
	zw.best_d = edits_allowed(typed);
	if (util_read_file(tab, &zw.tab, &len, &e) < 0)
		zw.tab = NULL;
	rc = nftw(root, zone_file, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	free(zw.tab);
	/* "utc" or "Etc/UTC" spelled otherwise. */
	if (zw.best[0] == '\0' &&
	    (ctl_distance(typed, "UTC") <= 1 ||
		ctl_distance(typed, "Etc/UTC") <= 1))
		xstrlcpy(zw.best, "UTC", sizeof(zw.best));
	if (rc != 0 || zw.best[0] == '\0' || !tz_exists(zw.best))
		return NULL;
	xstrlcpy(buf, zw.best, size);
	return buf;
}
