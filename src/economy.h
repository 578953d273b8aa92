/* economy: answers from cheaper API calls ([economy]): a channel's latest videos from its uploads playlist. */
#ifndef YTC_ECONOMY_H
#define YTC_ECONOMY_H

#include "util.h"

#include <stddef.h>

struct canon;
struct conf;

/* The response header that says where a rewritten answer came from. */
#define ECONOMY_HEADER "X-Ytcache-Source"

/* With [economy] channel_search = uploads, a search the channel's uploads
 * playlist can answer (channelId, order=date, type=video, and nothing but
 * part, maxResults, pageToken): fills `up` with the playlistItems request
 * that answers it and `source` with the header's value, and returns 1.
 * 0: not such a search (`up` untouched); -1: the rewrite failed (serve the
 * search as asked). */
int economy_uploads(const struct conf *c, const struct canon *search, struct canon *up, char *source,
                    size_t srclen);

/* Rewrite a 200 playlistItems body (of economy_uploads' request) in place
 * into the youtube#searchListResponse the search would have had: items as
 * youtube#searchResult (id, and snippet if the search asked for it),
 * pageInfo and the page tokens kept, the playlist answer's etag. 0, or -1
 * (not the JSON expected, or out of memory). */
int economy_search_body(const struct canon *search, buf_t *body);

#endif
