/* ns_net.c: networking inside the sandbox. With --net none the task gets a
 * fresh network namespace whose only device, lo, is brought up here through
 * rtnetlink with libnl-route (never hand-rolled netlink). */
#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "sandbox/ns.h"

int ns_net_loopback_up(struct wsbox_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *lo = NULL, *change = NULL;
	int r;

	if (!sk)
		return wsbox_fail(err, ENOMEM, "netlink socket");
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		r = wsbox_fail(err, 0, "netlink connect: %s", nl_geterror(r));
		goto out;
	}
	r = rtnl_link_get_kernel(sk, 0, "lo", &lo);
	if (r < 0) {
		r = wsbox_fail(err, 0, "find lo: %s", nl_geterror(r));
		goto out;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = wsbox_fail(err, ENOMEM, "netlink link");
		goto out;
	}
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, lo, change, 0);
	if (r < 0)
		r = wsbox_fail(err, 0, "bring up lo: %s", nl_geterror(r));
out:
	if (change)
		rtnl_link_put(change);
	if (lo)
		rtnl_link_put(lo);
	nl_socket_free(sk);
	return r < 0 ? r : 0;
}
