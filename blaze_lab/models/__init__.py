"""blaze_lab.models"""
