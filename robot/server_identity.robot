*** Settings ***
Documentation     Which certificate chain the peer presents, in the three situations of a person debugging
...               a field failure (docs/server-identity.md):
...
...               - you have the server's chain and key: `Set Server Identity    user    cert=...    key=...`
...               (here the test PKI's own server certificate, as `python -m sim.tls.certs` writes it);
...               - you have only the image: `Set Server Identity    substitute-trust` finds the CA
...               certificates the image embeds and writes same-length look-alikes into emulated flash
...               (the ELF file is not changed); the peer presents leaves under them;
...               - the image trusts the test CA, or does not verify the server: the default `test-pki`
...               leaves per SNI name.
...
...               The autopost-prod images trust two production roots (R1 as PEM text, R2 as DER) the
...               peer has no key for, and check the host name: without substitution they reject the
...               peer with their own verify error, with it they run as the autopost images do.
Library           Process
Library           OperatingSystem
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Suite Setup       Write The Test Pki
Test Tags         server-identity
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts
Test Timeout      3 minutes

*** Variables ***
${BACKEND}             builtin
${SEED}                1
${CONSOLE}             usart2
${SERVER}              telemetry.example.net
${PKI}                 ${OUTPUT DIR}${/}pki

*** Keywords ***
Write The Test Pki
    [Documentation]    ca.pem, server-rsa.pem and server-rsa.key, and chain.pem (leaf first, then the CA)
    ${python}=         Evaluate    sys.executable    modules=sys
    ${run}=            Run Process    ${python}    -m    sim.tls.certs    --out    ${PKI}
    Should Be Equal As Integers    ${run.rc}    0    ${run.stderr}
    ${leaf}=           Get File    ${PKI}${/}server-rsa.pem
    ${ca}=             Get File    ${PKI}${/}ca.pem
    Create File        ${PKI}${/}chain.pem    ${leaf}${ca}

*** Test Cases ***
You have the key: fixed accepts your chain and key
    [Tags]                       fixed    user-chain    post    size-903    expect-ok
    Use Firmware                 fixed
    Set Server Identity          user    cert=${PKI}${/}chain.pem    key=${PKI}${/}server-rsa.key
    ${result}=                   HTTPS POST    /upload    903
    Response Should Be OK        ${result}
    ${served}=                   Served Identity Should Be    ${result}    user    issuer=tls-fw-sim Test CA
    Length Should Be             ${served}[chain]    2

You have the key for another name: autopost-fixed checks the host name
    [Tags]                       autopost-fixed    user-chain    expect-bad_certificate
    Use Firmware                 autopost-fixed    device_initiated=True    console=${CONSOLE}
    Set Server Identity          user    cert=${PKI}${/}chain.pem    key=${PKI}${/}server-rsa.key
    ${request}=                  Wait For Request    timeout=10
    Request Should Have Failed With Alert    ${request}    bad_certificate
    Served Identity Should Be    ${request}    user
    Wait For Line On Uart        The certificate Common Name (CN) does not match with the expected CN    timeout=5

You have only the image: autopost-prod-fixed accepts leaves under look-alikes of its roots
    [Tags]                       autopost-prod-fixed    substitute-trust    post    expect-ok
    Use Firmware                 autopost-prod-fixed    device_initiated=True    console=${CONSOLE}
    Set Server Identity          substitute-trust
    FOR    ${n}    IN RANGE    1    3
        ${request}=              Wait For Request    POST    /upload    timeout=10
        Request Should Be OK     ${request}
        Served Identity Should Be    ${request}    substituted    issuer=look-alike of Example Telemetry Root CA
        Wait For Line On Uart    telemetry: post ${n} ok status=200    timeout=5
    END
    Uart Should Contain          tls: trusted CA C=NL, O=Example Telemetry B.V., CN=Example Telemetry Root CA R1
    Uart Should Contain          tls: trusted CA C=NL, O=Example Telemetry B.V., CN=Example Telemetry Root CA R2

You have only the image: autopost-prod-seedbug fails as seedbug does
    [Tags]                       autopost-prod-seedbug    substitute-trust    post    expect-bad_record_mac
    Use Firmware                 autopost-prod-seedbug    device_initiated=True    console=${CONSOLE}
    Set Server Identity          substitute-trust
    ${request}=                  Wait For Request    timeout=10
    Request Should Have Failed With Alert    ${request}    bad_record_mac
    Diagnosis Should Contain     ${request}    4 stale/garbage byte(s) inserted, then the intended bytes shifted by +4
    Diagnosis Should Contain     ${request}    eth_tx_buffers
    Wait For Line On Uart        telemetry: post 1 failed read -0x7780    timeout=5

Without substitution autopost-prod-fixed rejects the test PKI with its own verify error
    [Tags]                       autopost-prod-fixed    test-pki    expect-unknown_ca
    Use Firmware                 autopost-prod-fixed    device_initiated=True    console=${CONSOLE}
    ${request}=                  Wait For Request    timeout=10
    Request Should Have Failed With Alert    ${request}    unknown_ca
    Served Identity Should Be    ${request}    test-pki
    Wait For Line On Uart        x509_verify_cert() returned -9984 (-0x2700)    timeout=5
    Wait For Line On Uart        telemetry: post 1 failed handshake -0x2700    timeout=5

The image trusts the test CA: autopost-fixed accepts the per-name leaf
    [Tags]                       autopost-fixed    test-pki    post    expect-ok
    Use Firmware                 autopost-fixed    device_initiated=True    console=${CONSOLE}
    Set Server Identity          test-pki
    ${connection}=               Wait For Connection    port=443    timeout=10
    ${request}=                  Wait For Request    POST    /upload    timeout=10
    Request Should Be OK         ${request}
    ${served}=                   Served Identity Should Be    ${connection}    test-pki    issuer=tls-fw-sim Test CA
    Should Be Equal              ${served}[host]    ${SERVER}
