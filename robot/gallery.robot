*** Settings ***
Documentation     The defect gallery: "GET works, a larger POST gets a fatal bad_record_mac" has more than
...               one cause in the field. Each bug-* image (firmware/README.md, "The defect gallery") is
...               `fixed` with one of them, and `seedbug` has the TX copy defect; each runs under the
...               field condition that exposes its defect, and the diagnosis (sim/diagnosis, named from
...               the run's evidence, never from the image's name) must name its cause class and quote
...               the key evidence line; a failing run is replayed with the write trace, and where the
...               class rests on who wrote which bytes the test checks that provenance line as well.
...               `fixed` passes every condition, and each bug-* image passes where its condition is
...               absent. docs/diagnosis.md describes the classes and their evidence.
...
...               The report's matrix is TLS 1.0, 1.1 and 1.2 with AES-128-CBC-SHA (and in TLS 1.2 also
...               AES-128-GCM-SHA256), RSA and ECDHE-RSA: eight rows. Running every image on every row
...               (112 runs with `fixed`) costs more than CI can spend on one suite, so each image runs on
...               three rows, one per TLS version, chosen for what changes its mechanism, and together
...               the images cover all eight rows: TLS 1.0's CBC record splitting (1/n-1) changes the
...               segment a lost-tail retransmission carries (bug-tcp-nocopy) and adds records the stack
...               overflow and the heartbeat fall between; CBC against GCM changes the record overhead
...               that decides where a short write cuts (bug-partial-send, bug-want-write-args), whether
...               two records under one sequence number show as one explicit nonce (bug-two-writers,
...               GCM) and how deep the encrypting write path pushes the stack (bug-stack-overflow);
...               truncated HMAC exists only for CBC suites (bug-trunc-hmac fails on the three CBC rows
...               and passes on GCM). `python -m sim gallery --matrix` runs every row.
...
...               Every test is tagged with its image (fixed, seedbug, bug-...), TLS version (tls1.0,
...               tls1.1, tls1.2), key exchange (ecdhe, rsa), cipher (cbc, gcm), method (post), body size
...               (size-4096), the outcome it asserts (cause-<class>, cause-none for a pass) and its field
...               condition (clean, lost-tail, window-2048, rfc6066-server):
...               `robot --include bug-tcp-nocopyORlost-tail robot/gallery.robot`.
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Test Setup        Reset Emulation
Test Teardown     Save Diagnosis Verdict
Test Template     Diagnosis Should Name The Cause
Test Timeout      2 minutes

*** Variables ***
${BACKEND}          builtin
${SEED}             1
${PATH}             /upload
${FIXED}            fixed
${SEEDBUG}          seedbug
${TCP_NOCOPY}       bug-tcp-nocopy
${PARTIAL_SEND}     bug-partial-send
${WANT_WRITE_ARGS}  bug-want-write-args
${TWO_WRITERS}      bug-two-writers
${STACK_OVERFLOW}   bug-stack-overflow
${TRUNC_HMAC}       bug-trunc-hmac

*** Test Cases ***    FIRMWARE    VERSION    SUITE    SIZE    CONDITION    CAUSE    KEY EVIDENCE    PROVENANCE
seedbug TLS 1.0 RSA-CBC POST 4096 clean                            ${SEEDBUG}              1.0     TLS-RSA-WITH-AES-128-CBC-SHA                4096      clean              transport_corruption        at frame offset 1020    never written since the boot snapshot
    [Tags]    seedbug    tls1.0    rsa    cbc    post    size-4096    cause-transport_corruption    clean
seedbug TLS 1.1 ECDHE-CBC POST 4096 clean                          ${SEEDBUG}              1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4096      clean              transport_corruption        at frame offset 1020    never written since the boot snapshot
    [Tags]    seedbug    tls1.1    ecdhe    cbc    post    size-4096    cause-transport_corruption    clean
seedbug TLS 1.2 ECDHE-GCM POST 4096 clean                          ${SEEDBUG}              1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       4096      clean              transport_corruption        at frame offset 1020    never written since the boot snapshot
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-4096    cause-transport_corruption    clean
bug-tcp-nocopy TLS 1.0 ECDHE-CBC POST 16384 lost-tail              ${TCP_NOCOPY}           1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          16384     lost-tail          retransmission_mismatch     was retransmitted with    when it was retransmitted
    [Tags]    bug-tcp-nocopy    tls1.0    ecdhe    cbc    post    size-16384    cause-retransmission_mismatch    lost-tail
bug-tcp-nocopy TLS 1.1 RSA-CBC POST 16384 lost-tail                ${TCP_NOCOPY}           1.1     TLS-RSA-WITH-AES-128-CBC-SHA                16384     lost-tail          retransmission_mismatch     was retransmitted with    when it was retransmitted
    [Tags]    bug-tcp-nocopy    tls1.1    rsa    cbc    post    size-16384    cause-retransmission_mismatch    lost-tail
bug-tcp-nocopy TLS 1.2 RSA-GCM POST 16384 lost-tail                ${TCP_NOCOPY}           1.2     TLS-RSA-WITH-AES-128-GCM-SHA256             16384     lost-tail          retransmission_mismatch     was retransmitted with    when it was retransmitted
    [Tags]    bug-tcp-nocopy    tls1.2    rsa    gcm    post    size-16384    cause-retransmission_mismatch    lost-tail
bug-partial-send TLS 1.0 RSA-CBC POST 65536 window-2048            ${PARTIAL_SEND}         1.0     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        missing_stream_bytes        bytes the TLS layer handed to the send callback never reached the server    -
    [Tags]    bug-partial-send    tls1.0    rsa    cbc    post    size-65536    cause-missing_stream_bytes    window-2048
bug-partial-send TLS 1.1 ECDHE-CBC POST 65536 window-2048          ${PARTIAL_SEND}         1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     window-2048        missing_stream_bytes        bytes the TLS layer handed to the send callback never reached the server    -
    [Tags]    bug-partial-send    tls1.1    ecdhe    cbc    post    size-65536    cause-missing_stream_bytes    window-2048
bug-partial-send TLS 1.2 RSA-CBC POST 65536 window-2048            ${PARTIAL_SEND}         1.2     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        missing_stream_bytes        bytes the TLS layer handed to the send callback never reached the server    -
    [Tags]    bug-partial-send    tls1.2    rsa    cbc    post    size-65536    cause-missing_stream_bytes    window-2048
bug-want-write-args TLS 1.0 ECDHE-CBC POST 65536 window-2048       ${WANT_WRITE_ARGS}      1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     window-2048        missing_stream_bytes        bytes the application handed to mbedtls_ssl_write never reached the server    the application rewrote its buffer
    [Tags]    bug-want-write-args    tls1.0    ecdhe    cbc    post    size-65536    cause-missing_stream_bytes    window-2048
bug-want-write-args TLS 1.1 RSA-CBC POST 65536 window-2048         ${WANT_WRITE_ARGS}      1.1     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        missing_stream_bytes        bytes the application handed to mbedtls_ssl_write never reached the server    the application rewrote its buffer
    [Tags]    bug-want-write-args    tls1.1    rsa    cbc    post    size-65536    cause-missing_stream_bytes    window-2048
bug-want-write-args TLS 1.2 ECDHE-GCM POST 65536 window-2048       ${WANT_WRITE_ARGS}      1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       65536     window-2048        missing_stream_bytes        bytes the application handed to mbedtls_ssl_write never reached the server    the application rewrote its buffer
    [Tags]    bug-want-write-args    tls1.2    ecdhe    gcm    post    size-65536    cause-missing_stream_bytes    window-2048
bug-two-writers TLS 1.0 RSA-CBC POST 65536 clean                   ${TWO_WRITERS}          1.0     TLS-RSA-WITH-AES-128-CBC-SHA                65536     clean              concurrent_writers          task heartbeat called mbedtls_ssl_write    task heartbeat, while task main's call
    [Tags]    bug-two-writers    tls1.0    rsa    cbc    post    size-65536    cause-concurrent_writers    clean
bug-two-writers TLS 1.1 ECDHE-CBC POST 65536 clean                 ${TWO_WRITERS}          1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     clean              concurrent_writers          task heartbeat called mbedtls_ssl_write    task heartbeat, while task main's call
    [Tags]    bug-two-writers    tls1.1    ecdhe    cbc    post    size-65536    cause-concurrent_writers    clean
bug-two-writers TLS 1.2 RSA-GCM POST 65536 clean                   ${TWO_WRITERS}          1.2     TLS-RSA-WITH-AES-128-GCM-SHA256             65536     clean              concurrent_writers          task heartbeat called mbedtls_ssl_write    task heartbeat, while task main's call
    [Tags]    bug-two-writers    tls1.2    rsa    gcm    post    size-65536    cause-concurrent_writers    clean
bug-stack-overflow TLS 1.0 ECDHE-CBC POST 4000 clean               ${STACK_OVERFLOW}       1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4000      clean              memory_corruption           below the bottom of upload's stack    -
    [Tags]    bug-stack-overflow    tls1.0    ecdhe    cbc    post    size-4000    cause-memory_corruption    clean
bug-stack-overflow TLS 1.1 RSA-CBC POST 4000 clean                 ${STACK_OVERFLOW}       1.1     TLS-RSA-WITH-AES-128-CBC-SHA                4000      clean              memory_corruption           below the bottom of upload's stack    -
    [Tags]    bug-stack-overflow    tls1.1    rsa    cbc    post    size-4000    cause-memory_corruption    clean
bug-stack-overflow TLS 1.2 ECDHE-CBC POST 4000 clean               ${STACK_OVERFLOW}       1.2     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4000      clean              memory_corruption           below the bottom of upload's stack    -
    [Tags]    bug-stack-overflow    tls1.2    ecdhe    cbc    post    size-4000    cause-memory_corruption    clean
bug-trunc-hmac TLS 1.0 RSA-CBC POST 903 rfc6066-server             ${TRUNC_HMAC}           1.0     TLS-RSA-WITH-AES-128-CBC-SHA                903       rfc6066-server     truncated_hmac              truncated the HMAC key to 10 bytes    -
    [Tags]    bug-trunc-hmac    tls1.0    rsa    cbc    post    size-903    cause-truncated_hmac    rfc6066-server
bug-trunc-hmac TLS 1.1 ECDHE-CBC POST 903 rfc6066-server           ${TRUNC_HMAC}           1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          903       rfc6066-server     truncated_hmac              truncated the HMAC key to 10 bytes    -
    [Tags]    bug-trunc-hmac    tls1.1    ecdhe    cbc    post    size-903    cause-truncated_hmac    rfc6066-server
bug-trunc-hmac TLS 1.2 ECDHE-CBC POST 903 rfc6066-server           ${TRUNC_HMAC}           1.2     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          903       rfc6066-server     truncated_hmac              truncated the HMAC key to 10 bytes    -
    [Tags]    bug-trunc-hmac    tls1.2    ecdhe    cbc    post    size-903    cause-truncated_hmac    rfc6066-server
fixed TLS 1.0 RSA-CBC POST 4096 clean                              ${FIXED}                1.0     TLS-RSA-WITH-AES-128-CBC-SHA                4096      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-4096    cause-none    clean
fixed TLS 1.1 ECDHE-CBC POST 4096 clean                            ${FIXED}                1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4096      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-4096    cause-none    clean
fixed TLS 1.2 ECDHE-GCM POST 4096 clean                            ${FIXED}                1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       4096      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-4096    cause-none    clean
fixed TLS 1.0 ECDHE-CBC POST 16384 lost-tail                       ${FIXED}                1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          16384     lost-tail          none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-16384    cause-none    lost-tail
fixed TLS 1.1 RSA-CBC POST 16384 lost-tail                         ${FIXED}                1.1     TLS-RSA-WITH-AES-128-CBC-SHA                16384     lost-tail          none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-16384    cause-none    lost-tail
fixed TLS 1.2 RSA-GCM POST 16384 lost-tail                         ${FIXED}                1.2     TLS-RSA-WITH-AES-128-GCM-SHA256             16384     lost-tail          none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-16384    cause-none    lost-tail
fixed TLS 1.0 RSA-CBC POST 65536 window-2048                       ${FIXED}                1.0     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-65536    cause-none    window-2048
fixed TLS 1.1 ECDHE-CBC POST 65536 window-2048                     ${FIXED}                1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-65536    cause-none    window-2048
fixed TLS 1.2 RSA-CBC POST 65536 window-2048                       ${FIXED}                1.2     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    rsa    cbc    post    size-65536    cause-none    window-2048
fixed TLS 1.0 ECDHE-CBC POST 65536 window-2048                     ${FIXED}                1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-65536    cause-none    window-2048
fixed TLS 1.1 RSA-CBC POST 65536 window-2048                       ${FIXED}                1.1     TLS-RSA-WITH-AES-128-CBC-SHA                65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-65536    cause-none    window-2048
fixed TLS 1.2 ECDHE-GCM POST 65536 window-2048                     ${FIXED}                1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       65536     window-2048        none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    ecdhe    gcm    post    size-65536    cause-none    window-2048
fixed TLS 1.0 RSA-CBC POST 65536 clean                             ${FIXED}                1.0     TLS-RSA-WITH-AES-128-CBC-SHA                65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-65536    cause-none    clean
fixed TLS 1.1 ECDHE-CBC POST 65536 clean                           ${FIXED}                1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-65536    cause-none    clean
fixed TLS 1.2 RSA-GCM POST 65536 clean                             ${FIXED}                1.2     TLS-RSA-WITH-AES-128-GCM-SHA256             65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    rsa    gcm    post    size-65536    cause-none    clean
fixed TLS 1.0 ECDHE-CBC POST 4000 clean                            ${FIXED}                1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4000      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    ecdhe    cbc    post    size-4000    cause-none    clean
fixed TLS 1.1 RSA-CBC POST 4000 clean                              ${FIXED}                1.1     TLS-RSA-WITH-AES-128-CBC-SHA                4000      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    rsa    cbc    post    size-4000    cause-none    clean
fixed TLS 1.2 ECDHE-CBC POST 4000 clean                            ${FIXED}                1.2     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          4000      clean              none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    ecdhe    cbc    post    size-4000    cause-none    clean
fixed TLS 1.0 RSA-CBC POST 903 rfc6066-server                      ${FIXED}                1.0     TLS-RSA-WITH-AES-128-CBC-SHA                903       rfc6066-server     none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.0    rsa    cbc    post    size-903    cause-none    rfc6066-server
fixed TLS 1.1 ECDHE-CBC POST 903 rfc6066-server                    ${FIXED}                1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          903       rfc6066-server     none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.1    ecdhe    cbc    post    size-903    cause-none    rfc6066-server
fixed TLS 1.2 ECDHE-CBC POST 903 rfc6066-server                    ${FIXED}                1.2     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA          903       rfc6066-server     none                        the request succeeded and every record verified    -
    [Tags]    fixed    tls1.2    ecdhe    cbc    post    size-903    cause-none    rfc6066-server
seedbug TLS 1.2 ECDHE-GCM POST 512 clean passes                    ${SEEDBUG}              1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       512       clean              none                        the request succeeded and every record verified    -
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    size-512    cause-none    clean
bug-tcp-nocopy TLS 1.2 ECDHE-GCM POST 65536 clean passes           ${TCP_NOCOPY}           1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    bug-tcp-nocopy    tls1.2    ecdhe    gcm    post    size-65536    cause-none    clean
bug-partial-send TLS 1.2 ECDHE-GCM POST 65536 clean passes         ${PARTIAL_SEND}         1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    bug-partial-send    tls1.2    ecdhe    gcm    post    size-65536    cause-none    clean
bug-want-write-args TLS 1.2 ECDHE-GCM POST 65536 clean passes      ${WANT_WRITE_ARGS}      1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       65536     clean              none                        the request succeeded and every record verified    -
    [Tags]    bug-want-write-args    tls1.2    ecdhe    gcm    post    size-65536    cause-none    clean
bug-two-writers TLS 1.2 ECDHE-GCM POST 16384 clean passes          ${TWO_WRITERS}          1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       16384     clean              none                        the request succeeded and every record verified    -
    [Tags]    bug-two-writers    tls1.2    ecdhe    gcm    post    size-16384    cause-none    clean
bug-stack-overflow TLS 1.2 ECDHE-GCM POST 3900 clean passes        ${STACK_OVERFLOW}       1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       3900      clean              none                        the request succeeded and every record verified    -
    [Tags]    bug-stack-overflow    tls1.2    ecdhe    gcm    post    size-3900    cause-none    clean
bug-trunc-hmac TLS 1.2 ECDHE-GCM POST 903 rfc6066-server passes    ${TRUNC_HMAC}           1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256       903       rfc6066-server     none                        the request succeeded and every record verified    -
    [Tags]    bug-trunc-hmac    tls1.2    ecdhe    gcm    post    size-903    cause-none    rfc6066-server
seedbug's threshold is found by bisection in at most 20 runs
    [Documentation]    The frame that no longer fits 1020 bytes of one TX DMA buffer: at 812 bytes of body
    ...                (TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256) the first record's second segment makes a
    ...                1021-byte frame, and the 1021st byte is the one the defect never copies.
    [Tags]    seedbug    tls1.2    ecdhe    gcm    post    sweep    cause-transport_corruption    clean
    [Template]    NONE
    Use Firmware    ${SEEDBUG}
    ${sweep}=    Smallest Failing Size Should Be    812    path=${PATH}    tls=1.2
    ...          suite=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256    low=1    high=65536    max_runs=20
    Should Be Equal    ${sweep.cause.key}    transport_corruption
    Should Contain    ${sweep.meaning}    fails once a frame exceeds 1020 bytes

*** Keywords ***
Diagnosis Should Name The Cause
    [Arguments]    ${firmware}    ${version}    ${suite}    ${size}    ${condition}    ${cause}    ${key evidence}
    ...            ${provenance}
    Use Firmware    ${firmware}
    ${diagnosed}=    Diagnose HTTPS POST    ${PATH}    ${size}    tls=${version}    suite=${suite}
    ...              condition=${condition}
    Cause Should Be    ${diagnosed}    ${cause}
    Key Evidence Should Contain    ${diagnosed}    ${key evidence}
    IF    $provenance != "-"    Provenance Should Contain    ${diagnosed}    ${provenance}
