*** Settings ***
Documentation     The user's report, replayed: HTTPS GET works, a larger POST to the same server dies
...               with a fatal BAD_RECORD_MAC alert (mbedtls_ssl_read_record() returned -30592 (-0x7780))
...               on TLS 1.0, 1.1 and 1.2 with AES-128-CBC-SHA and AES-128-GCM-SHA256, RSA and ECDHE-RSA.
...
...               The `fixed` image must answer every POST with 200 and the server's SHA-256 of the body
...               must equal the firmware's. The `seedbug` image carries the defect documented in
...               firmware/README.md: small requests pass, and every request whose TCP segment no longer
...               fits one 1024-byte TX DMA buffer draws bad_record_mac - and the peer's diagnosis must
...               name the first corrupted byte and where it sits (record, TCP segment, frame, DMA buffer).
...
...               Run on Renode instead of the built-in machine with `--variable BACKEND:renode`; point
...               it at your own image with `--variable FIXED:/path/to/your.elf`.
...
...               Every test is tagged with its image (fixed, seedbug), TLS version (tls1.0, tls1.1,
...               tls1.2), key exchange (ecdhe, rsa), cipher (cbc, gcm), method (post), body size (size-903)
...               and expected outcome (expect-ok, expect-bad_record_mac), to select or shard a run:
...               `robot --include tls1.2ANDseedbug robot/post_large.robot`.
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts
Test Template     POST Should Behave As Reported
Test Timeout      2 minutes

*** Variables ***
${BACKEND}        builtin
${SEED}           1
${FIXED}          fixed
${SEEDBUG}        seedbug
${PATH}           /upload

*** Test Cases ***                        FIRMWARE     VERSION    SUITE                                   SIZE    EXPECT
fixed TLS 1.0 ECDHE-CBC POST 1            ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1       ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-1    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 903          ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        903     ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-903    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 1460         ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1460    ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-1460    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 4096         ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        4096    ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-4096    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 16384        ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16384   ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-16384    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 16385        ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16385   ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-16385    expect-ok
fixed TLS 1.0 ECDHE-CBC POST 65536        ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        65536   ok
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-65536    expect-ok
fixed TLS 1.0 RSA-CBC POST 1              ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              1       ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-1    expect-ok
fixed TLS 1.0 RSA-CBC POST 903            ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              903     ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-903    expect-ok
fixed TLS 1.0 RSA-CBC POST 1460           ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              1460    ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-1460    expect-ok
fixed TLS 1.0 RSA-CBC POST 4096           ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              4096    ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-4096    expect-ok
fixed TLS 1.0 RSA-CBC POST 16384          ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              16384   ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-16384    expect-ok
fixed TLS 1.0 RSA-CBC POST 16385          ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              16385   ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-16385    expect-ok
fixed TLS 1.0 RSA-CBC POST 65536          ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              65536   ok
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-65536    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 1            ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1       ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-1    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 903          ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        903     ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-903    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 1460         ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1460    ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-1460    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 4096         ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        4096    ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-4096    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 16384        ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16384   ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-16384    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 16385        ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16385   ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-16385    expect-ok
fixed TLS 1.1 ECDHE-CBC POST 65536        ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        65536   ok
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-65536    expect-ok
fixed TLS 1.1 RSA-CBC POST 1              ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              1       ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-1    expect-ok
fixed TLS 1.1 RSA-CBC POST 903            ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              903     ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-903    expect-ok
fixed TLS 1.1 RSA-CBC POST 1460           ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              1460    ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-1460    expect-ok
fixed TLS 1.1 RSA-CBC POST 4096           ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              4096    ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-4096    expect-ok
fixed TLS 1.1 RSA-CBC POST 16384          ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              16384   ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-16384    expect-ok
fixed TLS 1.1 RSA-CBC POST 16385          ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              16385   ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-16385    expect-ok
fixed TLS 1.1 RSA-CBC POST 65536          ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              65536   ok
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-65536    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 1            ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     1       ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-1    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 903          ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     903     ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-903    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 1460         ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     1460    ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-1460    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 4096         ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     4096    ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-4096    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 16384        ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     16384   ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-16384    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 16385        ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     16385   ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-16385    expect-ok
fixed TLS 1.2 ECDHE-GCM POST 65536        ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     65536   ok
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-65536    expect-ok
fixed TLS 1.2 RSA-GCM POST 1              ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           1       ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-1    expect-ok
fixed TLS 1.2 RSA-GCM POST 903            ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           903     ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-903    expect-ok
fixed TLS 1.2 RSA-GCM POST 1460           ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           1460    ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-1460    expect-ok
fixed TLS 1.2 RSA-GCM POST 4096           ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           4096    ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-4096    expect-ok
fixed TLS 1.2 RSA-GCM POST 16384          ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           16384   ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-16384    expect-ok
fixed TLS 1.2 RSA-GCM POST 16385          ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           16385   ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-16385    expect-ok
fixed TLS 1.2 RSA-GCM POST 65536          ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           65536   ok
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-65536    expect-ok
seedbug TLS 1.0 ECDHE-CBC POST 1          ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1       ok
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-1    expect-ok
seedbug TLS 1.0 ECDHE-CBC POST 903        ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        903     bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-903    expect-bad_record_mac
seedbug TLS 1.0 ECDHE-CBC POST 1460       ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1460    bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-1460    expect-bad_record_mac
seedbug TLS 1.0 ECDHE-CBC POST 4096       ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        4096    bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-4096    expect-bad_record_mac
seedbug TLS 1.0 ECDHE-CBC POST 16384      ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16384   bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-16384    expect-bad_record_mac
seedbug TLS 1.0 ECDHE-CBC POST 16385      ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16385   bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-16385    expect-bad_record_mac
seedbug TLS 1.0 ECDHE-CBC POST 65536      ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        65536   bad_record_mac
    [Tags]    seedbug    tls1.0    ecdhe    cbc    post    size-65536    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 1            ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              1       ok
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-1    expect-ok
seedbug TLS 1.0 RSA-CBC POST 903          ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              903     bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-903    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 1460         ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              1460    bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-1460    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 4096         ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              4096    bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-4096    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 16384        ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              16384   bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-16384    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 16385        ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              16385   bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-16385    expect-bad_record_mac
seedbug TLS 1.0 RSA-CBC POST 65536        ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              65536   bad_record_mac
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-65536    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 1          ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1       ok
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-1    expect-ok
seedbug TLS 1.1 ECDHE-CBC POST 903        ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        903     bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-903    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 1460       ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        1460    bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-1460    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 4096       ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        4096    bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-4096    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 16384      ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16384   bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-16384    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 16385      ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        16385   bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-16385    expect-bad_record_mac
seedbug TLS 1.1 ECDHE-CBC POST 65536      ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        65536   bad_record_mac
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-65536    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 1            ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              1       ok
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-1    expect-ok
seedbug TLS 1.1 RSA-CBC POST 903          ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              903     bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-903    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 1460         ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              1460    bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-1460    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 4096         ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              4096    bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-4096    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 16384        ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              16384   bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-16384    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 16385        ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              16385   bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-16385    expect-bad_record_mac
seedbug TLS 1.1 RSA-CBC POST 65536        ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              65536   bad_record_mac
    [Tags]    seedbug    tls1.1    rsa    cbc    post    size-65536    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 1          ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     1       ok
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-1    expect-ok
seedbug TLS 1.2 ECDHE-GCM POST 903        ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     903     bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-903    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 1460       ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     1460    bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-1460    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 4096       ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     4096    bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-4096    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 16384      ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     16384   bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-16384    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 16385      ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     16385   bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-16385    expect-bad_record_mac
seedbug TLS 1.2 ECDHE-GCM POST 65536      ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     65536   bad_record_mac
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-65536    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 1            ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           1       ok
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-1    expect-ok
seedbug TLS 1.2 RSA-GCM POST 903          ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           903     bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-903    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 1460         ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           1460    bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-1460    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 4096         ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           4096    bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-4096    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 16384        ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           16384   bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-16384    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 16385        ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           16385   bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-16385    expect-bad_record_mac
seedbug TLS 1.2 RSA-GCM POST 65536        ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           65536   bad_record_mac
    [Tags]    seedbug    tls1.2    rsa    gcm    post    size-65536    expect-bad_record_mac

*** Keywords ***
POST Should Behave As Reported
    [Arguments]    ${firmware}    ${version}    ${suite}    ${size}    ${expect}
    Use Firmware    ${firmware}
    Start Emulation
    Create Terminal Tester    sysbus.usart1
    Configure Firmware TLS    ${version}    ${suite}
    ${result}=    HTTPS POST    ${PATH}    ${size}
    IF    '${expect}' == 'ok'
        Response Should Be OK    ${result}
    ELSE
        Request Should Fail As Reported    ${result}
    END
