*** Settings ***
Documentation     The Ethernet cable, pulled and plugged back in while the firmware runs. With the link
...               down the MAC neither sends nor receives (RM0090 §33: the MII carries nothing), so the
...               shell's connect times out in lwIP; plugged back in, the PHY auto-negotiates again
...               (about 1.8 s virtual on the LAN8742A) and the next request goes through, as on a board.
Library           sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}
Test Setup        Reset Emulation
Test Teardown     Save Scenario Artifacts
Test Tags         fixed    link
Test Timeout      2 minutes

*** Variables ***
${BACKEND}        builtin
${SEED}           1

*** Test Cases ***
A GET fails while the cable is out and works once the link is back
    [Tags]                       get    expect-connect-error
    Use Firmware                 fixed
    ${before}=                   HTTPS GET    /bytes/100
    Response Should Be OK        ${before}
    Set Link                     down
    ${during}=                   HTTPS GET    /bytes/100
    Should Be Equal              ${during.outcome}    error
    Uart Should Contain          net: connect to 192.0.2.1:443 failed (errno 116: Connection timed out)
    Set Link                     up    speed=100    duplex=full
    ${after}=                    HTTPS GET    /bytes/100
    Response Should Be OK        ${after}

Set Link names what it accepts
    [Tags]                       bad-input
    Use Firmware                 fixed
    Run Keyword And Expect Error    *say up or down*    Set Link    sideways
    Run Keyword And Expect Error    *links at 10 or 100*    Set Link    up    speed=1000
    Run Keyword And Expect Error    *say 'full' or 'half'*    Set Link    up    duplex=both
