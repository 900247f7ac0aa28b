*** Settings ***
Documentation     HTTPS GET over the report's matrix of versions and suites: it works on both images,
...               because no frame the firmware sends for a GET spans two TX DMA buffers. The firmware's
...               SHA-256 of each body must equal the digest of the body the peer served.
...
...               Tags as in post_large.robot: image, TLS version, key exchange, cipher, method (get),
...               body size (size-4096) and expected outcome (expect-ok).
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts
Test Template     GET Should Succeed
Test Timeout      2 minutes

*** Variables ***
${BACKEND}        builtin
${SEED}           1
${FIXED}          fixed
${SEEDBUG}        seedbug

*** Test Cases ***                      FIRMWARE     VERSION    SUITE                                   PATH
fixed TLS 1.0 ECDHE-CBC GET             ${FIXED}     1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        /bytes/4096
    [Tags]    fixed    tls1.0    ecdhe    cbc    get    size-4096    expect-ok
fixed TLS 1.0 RSA-CBC GET               ${FIXED}     1.0     TLS-RSA-WITH-AES-128-CBC-SHA              /bytes/4096
    [Tags]    fixed    tls1.0    rsa    cbc    get    size-4096    expect-ok
fixed TLS 1.1 ECDHE-CBC GET             ${FIXED}     1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        /bytes/4096
    [Tags]    fixed    tls1.1    ecdhe    cbc    get    size-4096    expect-ok
fixed TLS 1.1 RSA-CBC GET               ${FIXED}     1.1     TLS-RSA-WITH-AES-128-CBC-SHA              /bytes/4096
    [Tags]    fixed    tls1.1    rsa    cbc    get    size-4096    expect-ok
fixed TLS 1.2 ECDHE-GCM GET             ${FIXED}     1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     /bytes/4096
    [Tags]    fixed    tls1.2    ecdhe    gcm    get    size-4096    expect-ok
fixed TLS 1.2 RSA-GCM GET               ${FIXED}     1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           /bytes/4096
    [Tags]    fixed    tls1.2    rsa    gcm    get    size-4096    expect-ok
seedbug TLS 1.0 ECDHE-CBC GET           ${SEEDBUG}   1.0     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        /bytes/4096
    [Tags]    seedbug    tls1.0    ecdhe    cbc    get    size-4096    expect-ok
seedbug TLS 1.0 RSA-CBC GET             ${SEEDBUG}   1.0     TLS-RSA-WITH-AES-128-CBC-SHA              /bytes/4096
    [Tags]    seedbug    tls1.0    rsa    cbc    get    size-4096    expect-ok
seedbug TLS 1.1 ECDHE-CBC GET           ${SEEDBUG}   1.1     TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA        /bytes/4096
    [Tags]    seedbug    tls1.1    ecdhe    cbc    get    size-4096    expect-ok
seedbug TLS 1.1 RSA-CBC GET             ${SEEDBUG}   1.1     TLS-RSA-WITH-AES-128-CBC-SHA              /bytes/4096
    [Tags]    seedbug    tls1.1    rsa    cbc    get    size-4096    expect-ok
seedbug TLS 1.2 ECDHE-GCM GET           ${SEEDBUG}   1.2     TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256     /bytes/4096
    [Tags]    seedbug    tls1.2    ecdhe    gcm    get    size-4096    expect-ok
seedbug TLS 1.2 RSA-GCM GET             ${SEEDBUG}   1.2     TLS-RSA-WITH-AES-128-GCM-SHA256           /bytes/4096
    [Tags]    seedbug    tls1.2    rsa    gcm    get    size-4096    expect-ok

*** Keywords ***
GET Should Succeed
    [Arguments]    ${firmware}    ${version}    ${suite}    ${path}
    Use Firmware    ${firmware}
    Start Emulation
    Create Terminal Tester    sysbus.usart1
    Configure Firmware TLS    ${version}    ${suite}
    ${result}=    HTTPS GET    ${path}
    Response Should Be OK    ${result}
