/* tests/headers/headers_main.c — the 'headers' test: it exists only if every
 * public header compiled alone (see meson.build), so running it just passes. */
int main(void)
{
    return 0;
}
