"""A stand-in for AMD's amdsmi Python package at its boundary: the four calls hostcheck makes,
answering as the real library does on a Strix Halo (rocm-systems#8419: market name; device id
0x1586). Used by tests/probes/test_udev.py through PYTHONPATH."""


def amdsmi_init(*args):
    print("amdsmi: a library that prints on init")  # must not reach hostcheck's stdout


def amdsmi_get_processor_handles():
    return ["processor-0"]


def amdsmi_get_gpu_asic_info(handle):
    return {
        "market_name": "AMD Radeon 8060S Graphics",
        "device_id": "0x1586",
        "vendor_id": "0x1002",
    }


def amdsmi_shut_down():
    pass
