/*
 * curlload.c - libcurl, loaded when it is first needed.
 *
 * Most famcontactctl commands never send mail, and a `contact log` lasts a
 * few tens of milliseconds, most of it spent starting the process. Linked,
 * libcurl brings some thirty libraries of its own (OpenSSL, GnuTLS,
 * Kerberos, LDAP, SSH, RTMP, ...) that the dynamic loader maps and
 * relocates at every start: about 12 ms of the 30 ms a `contact log` took
 * on this project's machine (docs/design.md, "Modules"). So libcurl is
 * opened with dlopen(3) on first use, as systemd does with its optional
 * libraries, and only `send-test`, `mail-in` and the daemon pay for it.
 *
 * The daemon loads it the same way, when it opens its transport at start.
 * dpkg-shlibdeps cannot see a library opened so: debian/control names
 * libcurl4 among the package's dependencies.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>

#include "curlload.h"

/* The soname of libcurl 7.16 and later (Debian's libcurl4). */
#define CURL_SONAME "libcurl.so.4"

static struct curl_api api;
static bool loaded;

/* Sets *fn to the function name in h; 0, or -1 when h has no such symbol. */
static int
sym(void *h, const char *name, void *fn, size_t size)
{
	void *p = dlsym(h, name);

	if (p == NULL || size != sizeof(p))
		return -1;
	/* POSIX makes dlsym's object pointer a function pointer this way. */
	memcpy(fn, &p, size);
	return 0;
}

const struct curl_api *
curl_api(struct fc_error *e)
{
	struct curl_api a;
	const char *why;
	void *h;

	if (loaded)
		return &api;
	if ((h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		err_set(e, FC_ENOMEM,
		    "cannot load %s, needed to send or fetch mail (%s): "
		    "install libcurl4",
		    CURL_SONAME, why != NULL ? why : "no reason given");
		return NULL;
	}
#define SYM(field, name) \
	do { \
		if (sym(h, name, &a.field, sizeof(a.field)) < 0) { \
			err_set(e, FC_ENOMEM, \
			    "%s has no %s: install libcurl4", CURL_SONAME, \
			    name); \
			dlclose(h); \
			return NULL; \
		} \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_duphandle, "curl_easy_duphandle");
	SYM(easy_send, "curl_easy_send");
	SYM(easy_recv, "curl_easy_recv");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
	/* Never closed: libcurl's global state lives until exit. */
	api = a;
	loaded = true;
	return &api;
}
