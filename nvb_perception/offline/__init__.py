"""Working on recordings without DDS: process videos and bags, summarise bags, ergonomics reports, the demo."""
