"""blaze_lab.engines"""
