// tests/test_sha256.c: gpt2_file_sha256 against the FIPS 180-4 test vectors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gpt2.h"

static int check(const char *content, size_t n, size_t repeat, const char *want) {
    char path[] = "/tmp/test_sha256.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { perror("mkstemp"); return 1; }
    FILE *f = fdopen(fd, "wb");
    for (size_t i = 0; i < repeat; i++) fwrite(content, 1, n, f);
    fclose(f);
    char hex[65];
    Err err;
    int rc = gpt2_file_sha256(path, hex, &err);
    unlink(path);
    if (rc || strcmp(hex, want)) {
        printf("FAIL %zu x \"%.20s\": got %s, want %s\n", repeat, content, rc ? err.msg : hex, want);
        return 1;
    }
    return 0;
}

int main(void) {
    int fails = 0;
    fails += check("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    fails += check("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fails += check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 1,
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    fails += check("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    char hex[65];
    gpt2_sha256_hex("abc", 3, hex);
    if (strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")) {
        printf("FAIL in memory \"abc\": %s\n", hex);
        fails++;
    }
    Err err;
    if (gpt2_file_sha256("/nonexistent/model.safetensors", hex, &err) == 0 || !strstr(err.msg, "/nonexistent")) {
        printf("FAIL a missing file gave no error naming it\n");
        fails++;
    }
    printf("test_sha256: %s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
