package config

// pyplcINI is a pyPLC.ini as a SmartEVSE owner runs it: the keys of
// pyPLC's template (doc/pyPlc.ini.template), set for EvseMode.
const pyplcINI = `# pyPLC configuration, set up for the SmartEVSE
[general]
mode = EvseMode
is_simulation_without_modems = false
eth_interface = eth1
eth_windows_interface_name = \Device\NPF_{E4B8176C-8516-4D48-88BC-85225ABCF259}
display_via_serial = no
light_bulb_demo = no
soc_simulation = yes
evse_simulate_precharge = yes
digital_output_device = dieter
analog_input_device = none
use_evsepresentvoltage_for_precharge_end = yes
use_physical_inlet_voltage_during_chargeloop = no
u_delta_max_for_end_of_precharge = 10
serial_port = auto
serial_baud = 19200
mqtt_broker = localhost
mqtt_topic = pyPlc
charge_target_voltage = 270
exit_on_session_end = True
allow_new_session_after_stopping = True
exit_if_no_local_link_address_is_found = True
log_the_evse_mac_to_file = True
; not during deployment
testsuite_enable = No
udp_syslog_enable = No
charge_parameter_backend = none
evsemode_environment = none
evse_power_supply_control_via_special_homeplug_message = False
evse_printtrace = False
evse_show_decoded_transmit_message = False
sniffer_print_raw_exi = False
# the SmartEVSE's address, without a trailing slash
SOC_Callback_Enabled = True
soc_callback_endpoint: http://10.0.0.1/ev_state
soc_fallback_energy_capacity = 2700
logging_url = http://enteryourhosthere.org/pyPlcLogging/addLog.php
smart_listener_configuration = 1
`
