/*
 * curlload.h - libcurl, loaded when it is first needed.
 *
 * Only smtp.c and imap.c call libcurl, and they call it through this
 * table (see curlload.c for why it is not linked into famcontactctl).
 */
#ifndef FC_CURLLOAD_H
#define FC_CURLLOAD_H

#include <curl/curl.h>

#include "err.h"

/* The libcurl functions famcontactd uses, with curl.h's prototypes. */
struct curl_api {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	void (*easy_cleanup)(CURL *curl);
	CURL *(*easy_duphandle)(CURL *curl);
	CURLcode (*easy_send)(
	    CURL *curl, const void *buffer, size_t buflen, size_t *n);
	CURLcode (*easy_recv)(
	    CURL *curl, void *buffer, size_t buflen, size_t *n);
	struct curl_slist *(*slist_append)(
	    struct curl_slist *list, const char *string);
	void (*slist_free_all)(struct curl_slist *list);
};

/*
 * libcurl's functions; the library is loaded on the first call and stays.
 * NULL, with e set (FC_ENOMEM, exit status 71), when libcurl cannot be
 * loaded or lacks one of them.
 */
const struct curl_api *curl_api(struct fc_error *e);

#endif
