"""blaze_lab.sweep"""
