_base_ = './_base_/upernet_agent-swin_160k_ade20k-512x512.py'
