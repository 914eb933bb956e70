/*
 * skiff-netlink.c — a container's veth pair over rtnetlink, in-process.
 *
 * The bridge network used to plug a container in with two `ip -batch`
 * processes (one of them under nsenter): three execs per start, each a fork
 * of a large Node process. The same five requests made here take well under
 * a millisecond of the caller's time.
 *
 * skiff_plug_veth() runs on the calling (main) thread. It enters the
 * container's network namespace only to open a netlink socket there (a
 * netlink socket stays bound to the namespace it was made in) and returns
 * to the caller's namespace at once: network namespaces can be switched per
 * thread, and no other thread of the process is affected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

struct req {
  struct nlmsghdr *h;
  char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void *req_init(struct req *r, uint16_t type, uint16_t flags, size_t body) {
  memset(r->buf, 0, sizeof(r->buf));
  r->h = (struct nlmsghdr *)r->buf;
  r->h->nlmsg_type = type;
  r->h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  r->h->nlmsg_len = NLMSG_LENGTH(body);
  return NLMSG_DATA(r->h);
}

static struct rtattr *attr(struct req *r, uint16_t type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->h->nlmsg_len = NLMSG_ALIGN(r->h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}

/* Nested attributes: open with nest(), close with end() once the children are in. */
static struct rtattr *nest(struct req *r, uint16_t type) { return attr(r, type, NULL, 0); }
static void end(struct req *r, struct rtattr *a) { a->rta_len = (unsigned short)(r->buf + r->h->nlmsg_len - (char *)a); }

static int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* Sends one request and waits for its ack: 0, or -errno. */
static int talk(int fd, struct req *r) {
  static uint32_t seq;
  r->h->nlmsg_seq = ++seq;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (sendto(fd, r->buf, r->h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) return -errno;
  char in[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(fd, in, sizeof(in), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)in; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int fail(char *err, size_t errlen, const char *what, int rc) {
  snprintf(err, errlen, "%s: %s", what, strerror(-rc));
  return rc;
}

static int link_up(int fd, int index) {
  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return talk(fd, &r);
}

/*
 * `ip link add HOST_IF master BRIDGE up type veth peer name PEER_IF address
 * MAC netns NETNS_FD`, then inside that namespace: lo up, ADDR/PREFIX with
 * broadcast BRD on PEER_IF, PEER_IF up and, when GATEWAY is not 0, the
 * default route through it. Addresses in network byte order. Returns 0, or
 * -errno with a message in ERR; on failure the host end is deleted again
 * (which takes the peer with it).
 */
int skiff_plug_veth(const char *host_if, const char *bridge, const char *peer_if, const unsigned char *mac, int netns_fd,
                    uint32_t addr, int prefix, uint32_t brd, uint32_t gateway, char *err, int errlen) {
  err[0] = 0;
  int master = (int)if_nametoindex(bridge);
  if (!master) return fail(err, (size_t)errlen, bridge, -errno);
  int host = nl_open();
  if (host < 0) return fail(err, (size_t)errlen, "netlink socket", host);

  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  attr(&r, IFLA_IFNAME, host_if, strlen(host_if) + 1);
  attr(&r, IFLA_MASTER, &master, sizeof(master));
  struct rtattr *info = nest(&r, IFLA_LINKINFO);
  attr(&r, IFLA_INFO_KIND, "veth", 4);
  struct rtattr *data = nest(&r, IFLA_INFO_DATA);
  struct rtattr *peer = nest(&r, VETH_INFO_PEER);
  /* The peer's own ifinfomsg precedes its attributes. */
  r.h->nlmsg_len += NLMSG_ALIGN(sizeof(struct ifinfomsg));
  attr(&r, IFLA_IFNAME, peer_if, strlen(peer_if) + 1);
  attr(&r, IFLA_ADDRESS, mac, 6);
  attr(&r, IFLA_NET_NS_FD, &netns_fd, sizeof(netns_fd));
  end(&r, peer);
  end(&r, data);
  end(&r, info);
  int rc = talk(host, &r);
  if (rc < 0) {
    close(host);
    char what[64];
    snprintf(what, sizeof(what), "creating veth %s", host_if);
    return fail(err, (size_t)errlen, what, rc);
  }

  /* A socket in the container's namespace; this thread goes straight back. */
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int inner = -EBADF;
  const char *what = "entering the container's network namespace";
  if (self < 0) {
    rc = -errno;
  } else if (setns(netns_fd, CLONE_NEWNET) < 0) {
    rc = -errno;
  } else {
    inner = nl_open();
    if (setns(self, CLONE_NEWNET) < 0) {
      /* Cannot happen for root with a valid fd; never stay in the container's namespace. */
      snprintf(err, (size_t)errlen, "returning to the host's network namespace: %s", strerror(errno));
      _exit(125);
    }
    rc = inner < 0 ? inner : 0;
    what = "netlink socket in the container";
  }
  if (self >= 0) close(self);

  int index = 0;
  if (rc == 0) {
    /* Interface indexes are per namespace: ask this socket's namespace. */
    struct ifinfomsg *q = req_init(&r, RTM_GETLINK, 0, sizeof(*q));
    q->ifi_family = AF_UNSPEC;
    r.h->nlmsg_flags = NLM_F_REQUEST;
    attr(&r, IFLA_IFNAME, peer_if, strlen(peer_if) + 1);
    r.h->nlmsg_seq = 0x7fffffff;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (sendto(inner, r.buf, r.h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) rc = -errno;
    char in[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
    while (rc == 0 && !index) {
      ssize_t n = recv(inner, in, sizeof(in), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        rc = -errno;
        break;
      }
      for (struct nlmsghdr *h = (struct nlmsghdr *)in; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
          rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
          if (!rc) rc = -ENODEV;
          break;
        }
        if (h->nlmsg_type == RTM_NEWLINK) index = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
      }
    }
    what = "finding the container's interface";
  }
  if (rc == 0) {
    rc = link_up(inner, 1); /* lo: index 1 in every network namespace */
    what = "lo up";
  }
  if (rc == 0) {
    struct ifaddrmsg *ifa = req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    attr(&r, IFA_LOCAL, &addr, 4);
    attr(&r, IFA_ADDRESS, &addr, 4);
    attr(&r, IFA_BROADCAST, &brd, 4);
    rc = talk(inner, &r);
    what = "adding the container's address";
  }
  if (rc == 0) {
    rc = link_up(inner, index);
    what = "container interface up";
  }
  if (rc == 0 && gateway) {
    struct rtmsg *rt = req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    attr(&r, RTA_GATEWAY, &gateway, 4);
    attr(&r, RTA_OIF, &index, sizeof(index));
    rc = talk(inner, &r);
    what = "adding the default route";
  }
  if (inner >= 0) close(inner);
  if (rc < 0) {
    fail(err, (size_t)errlen, what, rc);
    /* Undo: deleting the host end takes the peer with it. */
    struct ifinfomsg *d = req_init(&r, RTM_DELLINK, 0, sizeof(*d));
    d->ifi_family = AF_UNSPEC;
    attr(&r, IFLA_IFNAME, host_if, strlen(host_if) + 1);
    (void)talk(host, &r);
  }
  close(host);
  return rc;
}
