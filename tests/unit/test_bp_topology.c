/* test_bp_topology.c -- the Redis Cluster hash slot of keys (CRC16 XMODEM, hash tags), as
 * redis-server's CLUSTER KEYSLOT computes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bp_topology.h"

static int slot(const char *key)
{
    return bp_cluster_key_slot(key, strlen(key));
}

static void test_key_slot(void **state)
{
    (void)state;
    /* values from CLUSTER KEYSLOT of redis-server 7.0 */
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot(""), 0);
    assert_int_equal(slot("123456789"), 12739); /* the CRC16 XMODEM check value 0x31C3 */
    /* a hash tag: only the part between the first { and the next } counts */
    assert_int_equal(slot("{bull}:emails:wait"), slot("bull"));
    assert_int_equal(slot("{bull}:emails:active"), slot("{bull}:other:id"));
    assert_int_equal(slot("bull:{emails}:wait"), slot("emails"));
    /* "{}" is no tag (the whole key is hashed); "{" without "}" neither */
    assert_int_equal(slot("{}bull"), 7917);
    assert_int_equal(slot("{bull"), 5462);
    assert_int_equal(slot("a{b}{c}"), slot("b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_slot),
    };

    return cmocka_run_group_tests_name("bp_topology", tests, NULL, NULL);
}
