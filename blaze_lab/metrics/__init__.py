"""blaze_lab.metrics"""
