BaccuracyJлк
?