"""blaze_lab.cache"""
