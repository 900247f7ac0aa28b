*** Settings ***
Documentation     Production-like images that nobody drives: the autopost images boot, take an address
...               by DHCP, set their clock by SNTP, resolve telemetry.example.net by DNS and POST a
...               1400-byte telemetry body at boot and then every 5 s, logging on USART2. The scenario
...               only serves the network and follows what the device does.
...
...               `autopost-fixed`: every POST is answered 200 and the peer's digest of the body is the
...               digest of the documented pattern, as the firmware itself confirms (`match=yes`).
...               `autopost-seedbug` carries seedbug's TX-copy defect: every POST draws a fatal
...               bad_record_mac, and the diagnosis names the same change as for seedbug (4 stale bytes
...               inserted at frame offset 1020 of a TX DMA buffer, the rest shifted by +4).
...
...               Point it at your own images with `--variable AUTOPOST_FIXED:/path/to/app.elf` (and
...               `--variable CONSOLE:usart3` when its log is elsewhere).
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Test Tags         device-initiated
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts
Test Timeout      2 minutes

*** Variables ***
${BACKEND}             builtin
${SEED}                1
${AUTOPOST_FIXED}      autopost-fixed
${AUTOPOST_SEEDBUG}    autopost-seedbug
${CONSOLE}             usart2
${SERVER}              telemetry.example.net
${BODY}                1400

*** Test Cases ***
autopost-fixed gets its address, name and time from the network
    [Tags]                       autopost-fixed    dhcp    dns    sntp
    Use Firmware                 ${AUTOPOST_FIXED}    device_initiated=True    console=${CONSOLE}
    Set Network Date             2024-05-01T12:00:00Z
    Wait For Line On Uart        sntp: time    timeout=10
    ${address}=                  Dhcp Lease Should Have Been Given
    Uart Should Contain          dhcp: lease ${address}/24 router 192.0.2.1 dns 192.0.2.1
    ${told}=                     Sntp Time Should Have Been Given
    Should Start With            ${told}    2024-05-01T12:00:0
    Uart Should Contain          sntp: time 2024-05-01T12:00:0

autopost-fixed POSTs are answered and their digests match
    [Tags]                       autopost-fixed    tls1.2    ecdhe    gcm    post    size-1400    expect-ok
    Use Firmware                 ${AUTOPOST_FIXED}    device_initiated=True    console=${CONSOLE}
    FOR    ${n}    IN RANGE    1    4
        ${connection}=           Wait For Connection    port=443    timeout=10
        Should Be Equal          ${connection.name}    ${SERVER}
        ${request}=              Wait For Request    POST    /upload    timeout=10
        Request Should Be OK     ${request}
        Should Be Equal          ${connection.sni}    ${SERVER}
        Should Be Equal          ${connection.suite}    TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
        Should Be Equal As Integers    ${request.size}    ${BODY}
        Wait For Line On Uart    telemetry: post ${n} ok status=200 server_length=${BODY} server_sha256=${request.server_sha256} match=yes    timeout=5
    END
    Dns Query Should Have Been Answered    ${SERVER}    A    192.0.2.1

autopost-fixed follows its server name to the address DNS gives
    [Tags]                       autopost-fixed    dns    post    expect-ok
    Use Firmware                 ${AUTOPOST_FIXED}    device_initiated=True    console=${CONSOLE}
    Map Dns Name                 ${SERVER}    198.51.100.20
    ${connection}=               Wait For Connection    timeout=10
    Should Be Equal              ${connection.address}    198.51.100.20
    ${request}=                  Wait For Request    POST    /upload    timeout=10
    Request Should Be OK         ${request}
    Dns Query Should Have Been Answered    ${SERVER}    A    198.51.100.20

autopost-seedbug POSTs fail with bad_record_mac, diagnosed as seedbug
    [Tags]                       autopost-seedbug    tls1.2    ecdhe    gcm    post    size-1400    expect-bad_record_mac
    Use Firmware                 ${AUTOPOST_SEEDBUG}    device_initiated=True    console=${CONSOLE}
    FOR    ${n}    IN RANGE    1    3
        ${request}=              Wait For Request    timeout=10
        Request Should Have Failed With Alert    ${request}    bad_record_mac
        Diagnosis Should Contain    ${request}    4 stale/garbage byte(s) inserted, then the intended bytes shifted by +4
        Diagnosis Should Contain    ${request}    frame offset 1020
        Diagnosis Should Contain    ${request}    eth_tx_buffers
        Wait For Line On Uart    telemetry: post ${n} failed read -0x7780    timeout=5
    END
    Uart Should Contain          is a fatal alert message (msg 20)
    Uart Should Contain          mbedtls_ssl_read_record() returned -30592 (-0x7780)

autopost-fixed with a name the resolver does not know
    [Tags]                       autopost-fixed    dns    expect-dns-failure
    Use Firmware                 ${AUTOPOST_FIXED}    device_initiated=True    console=${CONSOLE}
    Make Dns Name Absent         ${SERVER}
    Wait For Line On Uart        telemetry: post 1 failed dns    timeout=10
    Dns Query Should Have Been Answered    ${SERVER}
