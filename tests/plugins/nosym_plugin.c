/* nosym_plugin.c -- a shared library without the bullpen_plugin symbol: bullpen must refuse
 * it. */
__attribute__((visibility("default"))) int not_a_bullpen_plugin(void);

int not_a_bullpen_plugin(void)
{
    return 42;
}
