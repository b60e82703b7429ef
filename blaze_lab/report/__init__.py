"""blaze_lab.report"""
