/*
 * rs_proto.h — control-plane messages on the daemon's Unix socket (SOCK_SEQPACKET: one message per packet).
 *
 * The socket carries only slow-path traffic: attach (with the session's memfds and eventfds passed by
 * SCM_RIGHTS in the reply), kernel lookups, status, cancel. Every message starts with struct rs_msg_hdr;
 * fixed-size bodies; strings are NUL-terminated inside their arrays. The daemon validates every length and
 * string it receives. Closing the socket ends the session (the daemon reclaims it); rs_disconnect sends
 * RS_MSG_DETACH first, so the daemon's log can tell a clean disconnect from a client that died. A daemon that
 * dies closes the socket too, which is how a waiting client notices (DESIGN §7).
 */
#ifndef RS_PROTO_H
#define RS_PROTO_H

#include <stdint.h>

#include "rs_abi.h"

#define RS_PROTO_MAGIC 0x52535031u /* "RSP1" */

enum rs_msg_type {
	RS_MSG_ATTACH = 1,        /* client -> daemon: struct rs_msg_attach */
	RS_MSG_ATTACH_REPLY = 2,  /* daemon -> client: struct rs_msg_attach_reply + 4 fds on success */
	RS_MSG_KERNEL_LOOKUP = 3, /* client -> daemon: struct rs_msg_kernel_lookup */
	RS_MSG_KERNEL_REPLY = 4,  /* daemon -> client: struct rs_msg_kernel_reply */
	RS_MSG_STATUS = 5,        /* client -> daemon: header only (no session needed) */
	RS_MSG_STATUS_REPLY = 6,  /* daemon -> client: struct rs_msg_status_reply */
	RS_MSG_KERNEL_LIST = 7,   /* client -> daemon: struct rs_msg_kernel_list (start index) */
	RS_MSG_KERNEL_LIST_REPLY = 8,
	RS_MSG_CANCEL_ALL = 9,    /* client -> daemon: struct rs_msg_cancel */
	RS_MSG_CANCEL_REPLY = 10, /* daemon -> client: struct rs_msg_result */
	RS_MSG_DETACH = 11,       /* client -> daemon: header only; a clean disconnect (no reply), then close */
};

struct rs_msg_hdr {
	uint32_t magic; /* RS_PROTO_MAGIC */
	uint32_t type;  /* enum rs_msg_type */
};

struct rs_msg_attach {
	struct rs_msg_hdr hdr;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t features;      /* wanted RS_FEAT_* */
	uint32_t ring_entries;  /* 0 = daemon default */
	uint32_t task_window;
	uint64_t heap_bytes;
	uint32_t heap_depths;
	uint32_t reserved;
	uint64_t arena_bytes;
	char name[32];
};

struct rs_msg_attach_reply {
	struct rs_msg_hdr hdr;
	int32_t status;         /* 0 or negative code */
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t reserved;
	uint64_t features;
	uint64_t session_id;
	uint64_t sq_bytes;
	uint64_t cq_bytes;
	char message[160];      /* why it was refused */
};
/* fds passed with a successful attach reply, in this order */
enum { RS_FD_SQ = 0, RS_FD_CQ = 1, RS_FD_DOORBELL = 2, RS_FD_COMPLETION = 3, RS_FD_COUNT = 4 };

struct rs_msg_kernel_lookup {
	struct rs_msg_hdr hdr;
	char name[32];
};

struct rs_msg_kernel_reply {
	struct rs_msg_hdr hdr;
	int32_t id;             /* kernel id or negative code */
	uint32_t n_views;
	uint32_t n_scalars;
	uint8_t modes[RS_MAX_VIEWS];
};

#define RS_KERNEL_LIST_MAX 32
struct rs_msg_kernel_list {
	struct rs_msg_hdr hdr;
	uint32_t start;
};
struct rs_msg_kernel_list_reply {
	struct rs_msg_hdr hdr;
	uint32_t total;
	uint32_t count;
	struct {
		char name[32];
		char doc[96];
		uint32_t n_views;
		uint32_t n_scalars;
	} k[RS_KERNEL_LIST_MAX];
};

#define RS_STATUS_MAX_SESSIONS 32
struct rs_msg_status_reply {
	struct rs_msg_hdr hdr;
	char version[32];
	uint32_t schedulers;
	uint32_t wiring_shared;
	uint32_t sessions;
	uint32_t listed;
	uint64_t uptime_ms;
	uint64_t tasks_completed;
	uint64_t tasks_failed;
	uint64_t tasks_cancelled;
	uint64_t tasks_rejected;
	uint64_t busy_ns[64];   /* per scheduler thread (first min(schedulers, 64)) */
	struct {
		uint64_t id;
		int32_t pid;
		uint32_t uid;
		uint64_t wired;
		uint64_t completed;
		uint32_t ready;
		uint32_t reserved;
		char name[32];
	} s[RS_STATUS_MAX_SESSIONS];
};

struct rs_msg_cancel {
	struct rs_msg_hdr hdr;
	uint64_t upto_seq;      /* cancel every task with seq <= upto_seq not yet started */
};

struct rs_msg_result {
	struct rs_msg_hdr hdr;
	int32_t status;
	uint32_t reserved;
};

#endif /* RS_PROTO_H */
